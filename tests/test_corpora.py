"""Corpus parsers: labels, speakers, metadata and reject reasons for every format."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from ser.corpora import CANONICAL, MEDIA_EXTENSIONS, PARSERS, Entry, load_table, scan

RAVDESS_DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ravdess-dev"


def make(root: Path, *names: str) -> Path:
    """Create empty files (with their folders) under root; return root."""
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
    return root


def by_rel(entries: list[Entry]) -> dict[str, Entry]:
    return {e.rel: e for e in entries}


# ---------------------------------------------------------------- common behaviour


def test_constants() -> None:
    assert CANONICAL == (
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
        "boredom",
    )
    assert {".wav", ".flac", ".mp4", ".avi", ".flv", ".opus", ".wma"} <= MEDIA_EXTENSIONS
    assert all(x.startswith(".") and x == x.lower() for x in MEDIA_EXTENSIONS)
    assert set(PARSERS) == {
        "ravdess",
        "cremad",
        "tess",
        "savee",
        "rml",
        "emodb",
        "urdu",
        "folders",
        "list",
        "table",
    }


def test_unknown_format_names_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset format 'iemocap'.*cremad.*ravdess"):
        scan("iemocap", tmp_path)


def test_table_format_points_to_load_table(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="load_table"):
        scan("table", tmp_path)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset path not found: .*nowhere"):
        scan("ravdess", tmp_path / "nowhere")
    make(tmp_path, "file.wav")
    with pytest.raises(ValueError, match="dataset path not found"):
        scan("ravdess", tmp_path / "file.wav")


def test_every_file_listed_sorted_hidden_skipped(tmp_path: Path) -> None:
    make(
        tmp_path,
        "Actor_01/03-01-05-01-01-01-01.wav",
        "Actor_01/03-01-04-01-01-01-01.wav",
        "Actor_01/._03-01-05-01-01-01-01.wav",  # macOS resource fork: hidden
        ".DS_Store",
        ".cache/03-01-05-01-01-01-01.wav",  # hidden folder
        "README.md",
        "Actor_01/LICENSE",
        "Actor_01/notes.TXT",
    )
    entries = scan("ravdess", tmp_path)
    rels = [e.rel for e in entries]
    assert rels == sorted(rels)
    assert rels == [
        "Actor_01/03-01-04-01-01-01-01.wav",
        "Actor_01/03-01-05-01-01-01-01.wav",
        "Actor_01/LICENSE",
        "Actor_01/notes.TXT",
        "README.md",
    ]
    e = by_rel(entries)
    assert e["README.md"].reject == "not an audio or video file (.md)"
    assert e["Actor_01/notes.TXT"].reject == "not an audio or video file (.TXT)"
    assert e["Actor_01/LICENSE"].reject == "not an audio or video file (no extension)"
    assert e["README.md"].label is None and e["README.md"].speaker is None
    for entry in entries:
        assert entry.path.is_absolute()
        assert entry.path == tmp_path / entry.rel
    assert e["Actor_01/03-01-05-01-01-01-01.wav"].reject is None
    hash(entries[0])  # usable in sets despite the meta dict


def test_relative_root_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path / "corpus", "Anger/a.wav")
    monkeypatch.chdir(tmp_path)
    (entry,) = scan("folders", Path("corpus"))
    assert entry.path == tmp_path / "corpus" / "Anger" / "a.wav"
    assert entry.rel == "Anger/a.wav"


def test_symlinked_folder_followed_loop_and_broken_link(tmp_path: Path) -> None:
    elsewhere = make(tmp_path / "elsewhere", "a.wav")
    root = make(tmp_path / "corpus", "Sad/b.wav")
    os.symlink(elsewhere, root / "Happy")
    os.symlink(root, root / "Sad" / "loop")  # would recurse forever if followed
    os.symlink(tmp_path / "missing.wav", root / "Sad" / "gone.wav")
    e = by_rel(scan("folders", root))
    assert set(e) == {"Happy/a.wav", "Sad/b.wav", "Sad/gone.wav"}
    assert e["Happy/a.wav"].label == "happy" and e["Happy/a.wav"].reject is None
    assert e["Sad/gone.wav"].reject == "broken symbolic link"


def test_emotions_filter(tmp_path: Path) -> None:
    make(
        tmp_path,
        "Actor_01/03-01-02-01-01-01-01.wav",  # calm
        "Actor_01/03-01-05-01-01-01-01.wav",  # angry
        "Actor_01/03-01-04-01-01-01-01.wav",  # sad
        "Actor_01/03-01-11-01-01-01-01.wav",  # unknown code keeps its own reason
    )
    e = by_rel(scan("ravdess", tmp_path, {"emotions": ["angry", "sad"]}))
    assert e["Actor_01/03-01-02-01-01-01-01.wav"].reject == "emotion 'calm' not in config emotions"
    assert e["Actor_01/03-01-02-01-01-01-01.wav"].label == "calm"
    assert e["Actor_01/03-01-05-01-01-01-01.wav"].reject is None
    assert e["Actor_01/03-01-04-01-01-01-01.wav"].reject is None
    assert e["Actor_01/03-01-11-01-01-01-01.wav"].reject == "unknown emotion code '11'"
    with pytest.raises(ValueError, match="emotions.*anger"):
        scan("ravdess", tmp_path, {"emotions": ["anger"]})
    with pytest.raises(ValueError, match="emotions"):
        scan("ravdess", tmp_path, {"emotions": []})


def test_unknown_option_keys_are_ignored(tmp_path: Path) -> None:
    make(tmp_path, "Anger/a.wav")
    opts = {"format": "folders", "path": str(tmp_path), "shards": 4}
    assert scan("folders", tmp_path, opts)[0].label == "angry"


# ---------------------------------------------------------------- ravdess


def test_ravdess(tmp_path: Path) -> None:
    make(
        tmp_path,
        "Actor_01/03-01-05-02-01-02-01.wav",
        "Actor_01/01-01-03-01-02-01-01.mp4",
        "Actor_01/02-01-03-01-02-01-01.mp4",
        "Actor_01/03-01-08-01-01-01-01.WAV",
        "Actor_01/03-02-03-01-01-01-01.wav",  # song
        "Actor_01/03-01-09-01-01-01-01.wav",  # no emotion 09
        "Actor_01/03-01-05-03-01-01-01.wav",  # no intensity 03
        "Actor_01/03-01-05-01-01-01.wav",  # six fields
        "Actor_01/03-01-05-01-01-01-02.wav",  # actor 02 in Actor_01
        "audio/Actor_12/03-01-06-01-01-01-12.flac",  # nested actor folder
        "loose/03-01-07-01-01-01-24.wav",  # no actor folder
    )
    e = by_rel(scan("ravdess", tmp_path))
    a = e["Actor_01/03-01-05-02-01-02-01.wav"]
    assert (a.speaker, a.original_label, a.label, a.reject) == ("01", "05", "angry", None)
    assert a.meta == {
        "modality": "audio-only",
        "vocal_channel": "speech",
        "intensity": "strong",
        "statement": "01",
        "repetition": "02",
    }
    av = e["Actor_01/01-01-03-01-02-01-01.mp4"]
    assert (av.label, av.meta["modality"], av.meta["statement"], av.reject) == (
        "happy",
        "full-AV",
        "02",
        None,
    )
    vo = e["Actor_01/02-01-03-01-02-01-01.mp4"]
    assert vo.meta["modality"] == "video-only" and vo.reject is None  # rejected later, by audio
    assert e["Actor_01/03-01-08-01-01-01-01.WAV"].label == "surprised"
    song = e["Actor_01/03-02-03-01-01-01-01.wav"]
    assert song.reject == "song, but vocal_channel is speech"
    assert song.label == "happy" and song.meta["vocal_channel"] == "song"
    bad = e["Actor_01/03-01-09-01-01-01-01.wav"]
    assert (bad.label, bad.original_label, bad.reject) == (None, "09", "unknown emotion code '09'")
    assert e["Actor_01/03-01-05-03-01-01-01.wav"].reject == "unknown intensity code '03'"
    assert (
        e["Actor_01/03-01-05-01-01-01.wav"].reject
        == "name does not match RAVDESS MM-VV-EE-II-SS-RR-AA"
    )
    assert e["Actor_01/03-01-05-01-01-01-02.wav"].reject == (
        "actor 02 in file name disagrees with folder Actor_01"
    )
    nested = e["audio/Actor_12/03-01-06-01-01-01-12.flac"]
    assert (nested.speaker, nested.label, nested.reject) == ("12", "fearful", None)
    loose = e["loose/03-01-07-01-01-01-24.wav"]
    assert (loose.speaker, loose.label, loose.reject) == ("24", "disgust", None)


def test_ravdess_vocal_channel_option(tmp_path: Path) -> None:
    speech, song = "Actor_03/03-01-04-01-01-01-03.wav", "Actor_03/03-02-04-01-01-01-03.wav"
    make(tmp_path, speech, song)
    e = by_rel(scan("ravdess", tmp_path, {"vocal_channel": "song"}))
    assert e[song].reject is None
    assert e[speech].reject == "speech, but vocal_channel is song"
    e = by_rel(scan("ravdess", tmp_path, {"vocal_channel": "both"}))
    assert e[song].reject is None and e[speech].reject is None
    with pytest.raises(ValueError, match="vocal_channel"):
        scan("ravdess", tmp_path, {"vocal_channel": "singing"})


# ---------------------------------------------------------------- cremad


def test_cremad(tmp_path: Path) -> None:
    make(
        tmp_path,
        "AudioWAV/1001_DFA_ANG_XX.wav",
        "VideoFlash/1091_IEO_HAP_HI.flv",
        "AudioWAV/1002_TIE_FEA_LO.mp3",
        "AudioWAV/1003_ITS_XYZ_MD.wav",
        "AudioWAV/1003_ITS_SAD_QQ.wav",
        "AudioWAV/1001_DFA_ANG.wav",
        "AudioWAV/101_DFA_ANG_XX.wav",
    )
    e = by_rel(scan("cremad", tmp_path))
    a = e["AudioWAV/1001_DFA_ANG_XX.wav"]
    assert (a.speaker, a.original_label, a.label, a.reject) == ("1001", "ANG", "angry", None)
    assert a.meta == {"sentence": "DFA", "level": "XX", "intensity": "unspecified"}
    h = e["VideoFlash/1091_IEO_HAP_HI.flv"]
    assert (h.speaker, h.label, h.meta["level"], h.reject) == ("1091", "happy", "HI", None)
    assert e["AudioWAV/1002_TIE_FEA_LO.mp3"].label == "fearful"
    u = e["AudioWAV/1003_ITS_XYZ_MD.wav"]
    assert (u.label, u.reject) == (None, "unknown emotion code 'XYZ'")
    assert e["AudioWAV/1003_ITS_SAD_QQ.wav"].reject == "unknown level code 'QQ'"
    for bad in ("AudioWAV/1001_DFA_ANG.wav", "AudioWAV/101_DFA_ANG_XX.wav"):
        assert e[bad].reject.startswith("name does not match CREMA-D SSSS_SEN_EMO_LV")


# ---------------------------------------------------------------- tess


def test_tess(tmp_path: Path) -> None:
    make(
        tmp_path,
        "OAF_angry/OAF_back_angry.wav",
        "OAF_Fear/OAF_bite_fear.wav",
        "YAF_pleasant_surprised/YAF_back_ps.wav",
        "OAF_Pleasant_surprise/OAF_beg_pleasant_surprise.wav",
        "YAF_neutral/yaf_Dog_NEUTRAL.wav",
        "OAF_Sad/OAF_bar_sadd.wav",  # typo in the name: folder gives the label
        "OAF_angry/YAF_back_angry.wav",  # speaker contradicts folder
        "OAF_angry/OAF_back_sad.wav",  # emotion contradicts folder
        "OAF_dog_disgust.wav",  # no folder
        "OAF_dog_excited.wav",  # unknown, no folder to fall back on
        "OAF_angry/back_angry.wav",  # no speaker token
    )
    e = by_rel(scan("tess", tmp_path))
    a = e["OAF_angry/OAF_back_angry.wav"]
    assert (a.speaker, a.original_label, a.label, a.meta, a.reject) == (
        "OAF",
        "angry",
        "angry",
        {"word": "back"},
        None,
    )
    assert e["OAF_Fear/OAF_bite_fear.wav"].label == "fearful"
    ps = e["YAF_pleasant_surprised/YAF_back_ps.wav"]
    assert (ps.speaker, ps.original_label, ps.label, ps.reject) == ("YAF", "ps", "surprised", None)
    long = e["OAF_Pleasant_surprise/OAF_beg_pleasant_surprise.wav"]
    assert (long.label, long.meta["word"], long.reject) == ("surprised", "beg", None)
    n = e["YAF_neutral/yaf_Dog_NEUTRAL.wav"]
    assert (n.speaker, n.label, n.meta["word"]) == ("YAF", "neutral", "Dog")
    fb = e["OAF_Sad/OAF_bar_sadd.wav"]
    assert (fb.label, fb.original_label, fb.reject) == ("sad", "Sad", None)
    assert e["OAF_angry/YAF_back_angry.wav"].reject == (
        "speaker YAF in file name disagrees with folder OAF_angry"
    )
    assert e["OAF_angry/OAF_back_sad.wav"].reject == (
        "emotion 'sad' in file name disagrees with folder OAF_angry"
    )
    assert e["OAF_dog_disgust.wav"].label == "disgust"
    assert e["OAF_dog_excited.wav"].reject == "unknown emotion code 'excited'"
    assert e["OAF_angry/back_angry.wav"].reject.startswith("name does not match TESS")


# ---------------------------------------------------------------- savee


def test_savee(tmp_path: Path) -> None:
    make(
        tmp_path,
        "DC_a01.wav",
        "DC_sa03.wav",
        "JE/su15.wav",
        "AudioData/KL/n30.wav",
        "XY_h01.wav",
        "JK/JK_f02.wav",
        "DC_x01.wav",
        "dc_a01.wav",
        "JK/DC_d01.wav",
        "a01.wav",
    )
    e = by_rel(scan("savee", tmp_path))
    a = e["DC_a01.wav"]
    assert (a.speaker, a.original_label, a.label, a.meta, a.reject) == (
        "DC",
        "a",
        "angry",
        {"sentence": "01"},
        None,
    )
    assert (e["DC_sa03.wav"].label, e["DC_sa03.wav"].meta["sentence"]) == ("sad", "03")
    assert (e["JE/su15.wav"].speaker, e["JE/su15.wav"].label) == ("JE", "surprised")
    assert (e["AudioData/KL/n30.wav"].speaker, e["AudioData/KL/n30.wav"].label) == ("KL", "neutral")
    assert (e["XY_h01.wav"].speaker, e["XY_h01.wav"].label) == ("XY", "happy")
    assert (e["JK/JK_f02.wav"].label, e["JK/JK_f02.wav"].reject) == ("fearful", None)
    assert e["DC_x01.wav"].reject == "unknown emotion code 'x'"
    assert e["dc_a01.wav"].reject.startswith("name does not match SAVEE")
    assert e["JK/DC_d01.wav"].reject == "speaker DC in file name disagrees with folder JK"
    assert (e["a01.wav"].speaker, e["a01.wav"].label, e["a01.wav"].reject) == (None, "angry", None)


# ---------------------------------------------------------------- rml


def test_rml(tmp_path: Path) -> None:
    make(
        tmp_path,
        "s1/an1.avi",
        "s1/English/ha1_2.avi",
        "s7/Mandarin/di12.mp4",
        "s2/ne1.avi",
        "s2/readme.avi",
        "fe3.avi",
    )
    e = by_rel(scan("rml", tmp_path))
    a = e["s1/an1.avi"]
    assert (a.speaker, a.original_label, a.label, a.meta, a.reject) == (
        "s1",
        "an",
        "angry",
        {"take": "1"},
        None,
    )
    h = e["s1/English/ha1_2.avi"]
    assert (h.speaker, h.label, h.meta) == ("s1", "happy", {"take": "1_2", "language": "English"})
    d = e["s7/Mandarin/di12.mp4"]
    assert (d.speaker, d.label, d.meta["language"]) == ("s7", "disgust", "Mandarin")
    assert e["s2/ne1.avi"].reject == "unknown emotion code 'ne'"
    assert e["s2/readme.avi"].reject.startswith("name does not match RML")
    assert (e["fe3.avi"].speaker, e["fe3.avi"].label) == (None, "fearful")


# ---------------------------------------------------------------- emodb


def test_emodb(tmp_path: Path) -> None:
    make(tmp_path, "wav/03a01Fa.wav", "wav/16b10Lb.wav", "wav/03a01Xa.wav", "wav/3a01Fa.wav")
    e = by_rel(scan("emodb", tmp_path))
    a = e["wav/03a01Fa.wav"]
    assert (a.speaker, a.original_label, a.label, a.meta, a.reject) == (
        "03",
        "F",
        "happy",
        {"text": "a01", "version": "a"},
        None,
    )
    assert (e["wav/16b10Lb.wav"].speaker, e["wav/16b10Lb.wav"].label) == ("16", "boredom")
    assert e["wav/03a01Xa.wav"].reject == "unknown emotion code 'X'"
    assert e["wav/3a01Fa.wav"].reject.startswith("name does not match EmoDB")


def test_emodb_all_codes(tmp_path: Path) -> None:
    codes = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful"}
    codes |= {"F": "happy", "T": "sad", "N": "neutral"}
    make(tmp_path, *(f"08a02{c}b.wav" for c in codes))
    for entry in scan("emodb", tmp_path):
        assert entry.label == codes[entry.original_label] and entry.reject is None


# ---------------------------------------------------------------- urdu


def test_urdu(tmp_path: Path) -> None:
    make(
        tmp_path,
        "Angry/SM1_F10_A010.wav",
        "happy/SF2_F3_H001.wav",
        "URDU/Neutral/SM27_F1_N01.wav",
        "Excited/SM1_F1_A01.wav",
        "SM1_F1_A01.wav",
        "Sad/recording.wav",
    )
    e = by_rel(scan("urdu", tmp_path))
    a = e["Angry/SM1_F10_A010.wav"]
    assert (a.speaker, a.original_label, a.label, a.reject) == ("SM1", "Angry", "angry", None)
    assert (e["happy/SF2_F3_H001.wav"].speaker, e["happy/SF2_F3_H001.wav"].label) == (
        "SF2",
        "happy",
    )
    assert e["URDU/Neutral/SM27_F1_N01.wav"].label == "neutral"
    assert e["Excited/SM1_F1_A01.wav"].reject == "unknown emotion code 'Excited'"
    assert e["SM1_F1_A01.wav"].reject.startswith("name does not match URDU")
    assert e["Sad/recording.wav"].reject.startswith("name does not match URDU")


# ---------------------------------------------------------------- folders


def test_folders(tmp_path: Path) -> None:
    make(
        tmp_path,
        "Anger/12_take1.wav",
        "joy/session 2/07_b.flac",
        "Bored/x.mp3",
        "SURPRISE/y.wav",
        "Sad/99_dir/z.wav",
        "Excited/w.wav",
        "loose.wav",
    )
    e = by_rel(scan("folders", tmp_path, {"speaker_regex": r"^(\d+)_"}))
    a = e["Anger/12_take1.wav"]
    assert (a.speaker, a.original_label, a.label, a.reject) == ("12", "Anger", "angry", None)
    assert (e["joy/session 2/07_b.flac"].speaker, e["joy/session 2/07_b.flac"].label) == (
        "07",
        "happy",
    )
    assert (e["Bored/x.mp3"].speaker, e["Bored/x.mp3"].label) == ("unknown", "boredom")
    assert e["SURPRISE/y.wav"].label == "surprised"
    assert e["Sad/99_dir/z.wav"].speaker == "unknown"  # regex sees the file name only
    # a label outside the canonical set is kept as written (a corpus' own labels) ...
    assert (e["Excited/w.wav"].label, e["Excited/w.wav"].reject) == ("Excited", None)
    assert e["loose.wav"].reject.startswith("name does not match folders LABEL/")
    plain = by_rel(scan("folders", tmp_path))
    assert plain["Anger/12_take1.wav"].speaker == "unknown"
    # ... unless `emotions` keeps canonical labels only
    only = by_rel(scan("folders", tmp_path, {"emotions": ["angry", "happy"]}))
    assert only["Excited/w.wav"].reject == "emotion 'Excited' not in config emotions"
    assert only["Anger/12_take1.wav"].reject is None


def test_folders_speaker_from(tmp_path: Path) -> None:
    make(tmp_path, "angry/spk1/a.wav", "angry/spk2/sess1/b.wav", "sad/spk1/c.wav", "sad/d.wav")
    parent = by_rel(scan("folders", tmp_path, {"speaker_from": "parent"}))
    assert {k: e.speaker for k, e in parent.items()} == {
        "angry/spk1/a.wav": "spk1", "angry/spk2/sess1/b.wav": "sess1",
        "sad/spk1/c.wav": "spk1", "sad/d.wav": "sad"}
    level = by_rel(scan("folders", tmp_path, {"speaker_from": 1}))
    assert {k: e.speaker for k, e in level.items()} == {
        "angry/spk1/a.wav": "spk1", "angry/spk2/sess1/b.wav": "spk2",
        "sad/spk1/c.wav": "spk1", "sad/d.wav": "unknown"}
    with pytest.raises(ValueError, match="'speaker_regex' and 'speaker_from' exclude each other"):
        scan("folders", tmp_path, {"speaker_from": 1, "speaker_regex": "(x)"})
    with pytest.raises(ValueError, match="'speaker_from' must be 'parent' or a folder level"):
        scan("folders", tmp_path, {"speaker_from": "grandparent"})


def test_folders_speaker_regex_errors(tmp_path: Path) -> None:
    make(tmp_path, "Anger/a.wav")
    with pytest.raises(ValueError, match="speaker_regex.*no group"):
        scan("folders", tmp_path, {"speaker_regex": r"^\d+_"})
    with pytest.raises(ValueError, match="speaker_regex.*not a valid regex"):
        scan("folders", tmp_path, {"speaker_regex": r"^(\d+"})


# ---------------------------------------------------------------- table


def test_load_table_csv(tmp_path: Path) -> None:
    path = tmp_path / "feats.csv"
    pd.DataFrame(
        {
            "emotion": ["Anger", "joy", "weird", "sad"],
            "f0": [1.0, 2.0, 3.0, 4.0],
            "n": [1, 2, 3, 4],
            "flag": [True, False, True, False],
            "comment": ["a", "b", "c", "d"],
        }
    ).to_csv(path, index=False)
    df = load_table(path, label_column="emotion")
    assert list(df.columns) == ["id", "speaker", "label", "original_label", "f0", "n"]
    assert list(df["id"]) == ["row000000", "row000001", "row000002", "row000003"]
    assert list(df["label"]) == ["angry", "happy", "weird", "sad"]
    assert list(df["original_label"]) == ["Anger", "joy", "weird", "sad"]
    assert set(df["speaker"]) == {"unknown"}
    assert list(df["f0"]) == [1.0, 2.0, 3.0, 4.0]


def test_load_table_parquet_with_id_and_speaker(tmp_path: Path) -> None:
    path = tmp_path / "feats.parquet"
    pd.DataFrame(
        {
            "id": ["a", "b"],
            "actor": [3, 4],
            "label": ["happiness", "fearful"],
            "snr_db": [None, 10.0],
            "x": [0.5, 0.25],
        }
    ).to_parquet(path)
    df = load_table(path, speaker_column="actor")
    assert list(df["id"]) == ["a", "b"]
    assert list(df["speaker"]) == ["3", "4"]
    assert list(df["label"]) == ["happy", "fearful"]
    # snr_db is metadata of the pipeline's own tables: it must not turn into a feature
    assert list(df.columns) == ["id", "speaker", "label", "original_label", "x"]


def test_load_table_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dataset path not found"):
        load_table(tmp_path / "none.csv")
    path = tmp_path / "t.csv"
    pd.DataFrame({"emotion": ["sad"], "x": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="no label column 'label'"):
        load_table(path)
    with pytest.raises(ValueError, match="no speaker column 'actor'"):
        load_table(path, label_column="emotion", speaker_column="actor")
    pd.DataFrame({"label": ["sad"], "name": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="no numeric feature columns"):
        load_table(path)
    pd.DataFrame({"label": ["sad", None], "x": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="1 rows have no label"):
        load_table(path)
    pd.DataFrame({"id": ["a", "a"], "label": ["sad", "sad"], "x": [1, 2]}).to_csv(path)
    with pytest.raises(ValueError, match="duplicate"):
        load_table(path)
    other = tmp_path / "t.xlsx"
    other.touch()
    with pytest.raises(ValueError, match="unknown extension"):
        load_table(other)


# ---------------------------------------------------------------- real RAVDESS subset


@pytest.mark.ravdess
def test_ravdess_dev() -> None:
    if not RAVDESS_DEV.is_dir():
        pytest.skip(f"RAVDESS dev subset not found at {RAVDESS_DEV}")
    entries = scan("ravdess", RAVDESS_DEV)
    rejected = [e for e in entries if e.reject is not None]
    assert [(e.rel, e.reject) for e in rejected] == [
        ("README.md", "not an audio or video file (.md)")
    ]
    clips = [e for e in entries if e.reject is None]
    assert len(clips) == 480
    assert all(e.rel.endswith(".flac") and e.meta["modality"] == "audio-only" for e in clips)
    speakers = Counter(e.speaker for e in clips)
    assert speakers == {f"{a:02d}": 60 for a in range(1, 9)}
    # RAVDESS design, per actor: 2 statements x 2 repetitions x (1 intensity for neutral,
    # 2 for the other seven emotions) -> neutral 4, others 8 each.
    per_actor = Counter((e.speaker, e.label) for e in clips)
    for actor in speakers:
        for label in CANONICAL[:8]:
            assert per_actor[(actor, label)] == (4 if label == "neutral" else 8), (actor, label)
    labels = Counter(e.label for e in clips)
    assert labels == {label: (32 if label == "neutral" else 64) for label in CANONICAL[:8]}
    assert not any(e.label == "neutral" and e.meta["intensity"] == "strong" for e in clips)
    for e in clips:
        assert e.rel.split("/")[0] == f"Actor_{e.speaker}"
        assert e.path.is_file()


def test_merged_corpus_keeps_labels_outside_the_canonical_set() -> None:
    from ser.stages import merged_labels

    sources = [{"angry", "neutral", "calm"}, {"frustrated", "neutral", "excited"}]
    assert merged_labels({"calm": "neutral"}, None, sources) == [
        "neutral", "angry", "excited", "frustrated"]
    assert merged_labels(None, ["neutral", "angry"], sources) == ["neutral", "angry"]
