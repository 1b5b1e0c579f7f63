"""Corpus layouts on real files: labels and speakers from the parsers, then the audio stage
(real ffmpeg) on the same files. Real speech comes from ../shared/data; trees that mimic a
corpus as distributed are built in a temporary folder at test time, never in the repository."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from ser import audio
from ser.corpora import scan
from ser.manifest import clip_ids, run_audio_shard

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RAVDESS = DATA / "ravdess-dev"
CREMAD = DATA / "cremad-sample"


def need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


def audio_stage(entries, tmp_path: Path) -> pd.DataFrame:
    return run_audio_shard(entries, [e.rel for e in entries], 0, tmp_path / "shard.parquet",
                           tmp_path / "wav")


# ---------------------------------------------------------------- CREMA-D sample


@pytest.mark.parametrize("folder,ext,speakers", [("wav", ".wav", {"1001": 6, "1002": 6}),
                                                  ("media", ".flv", {"1001": 6}),
                                                  ("media", ".mp3", {"1002": 6})])
def test_cremad_sample_labels_speakers_and_decoding(tmp_path, folder, ext, speakers):
    entries = [e for e in scan("cremad", need(CREMAD) / folder) if e.rel.endswith(ext)]
    assert all(e.reject is None for e in entries)
    assert Counter(e.speaker for e in entries) == speakers
    assert {e.original_label: e.label for e in entries} == {
        "ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
        "SAD": "sad"}
    assert all(e.meta == {"sentence": "DFA", "level": "XX", "intensity": "unspecified"}
               for e in entries)
    if ext == ".flv":
        info = audio.probe(entries[0].path)
        assert info.has_video and info.has_audio
    man = audio_stage(entries, tmp_path)
    assert (man["status"] == "ok").all(), man[["rel_path", "reason"]]
    assert man["duration"].between(1.0, 5.0).all()
    assert man["wav"].map(lambda p: Path(p).is_file()).all()
    assert list(man["label"]) == [e.label for e in entries]


def test_cremad_sample_whole_folder():
    entries = scan("cremad", need(CREMAD))
    clips = [e for e in entries if e.reject is None]
    assert [e.rel for e in entries if e.reject] == ["README.md"]
    assert Counter(e.speaker for e in clips) == {"1001": 12, "1002": 12}
    assert Counter(e.label for e in clips) == {lab: 4 for lab in
                                               ("angry", "disgust", "fearful", "happy",
                                                "neutral", "sad")}
    # the same utterance under wav/ and media/ keeps two distinct clip ids
    ids = clip_ids([e.rel for e in clips])
    assert len(set(ids.values())) == 24 and ids["wav/1001_DFA_ANG_XX.wav"] == "wav/1001_DFA_ANG_XX"


# ---------------------------------------------------------------- RML as distributed

EMOTION_FILES = {"an": "05", "ha": "03", "sa": "04", "fe": "06", "di": "07", "su": "08"}


def real_avi(src: Path, dst: Path, seconds: float = 1.5) -> None:
    """An RML-like AVI (video + audio track) carrying real speech from a RAVDESS clip."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [audio.ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-ss", "0.5", "-t",
         str(seconds), "-i", str(src), "-f", "lavfi", "-i", f"color=gray:s=32x24:r=5:d={seconds}",
         "-shortest", "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-ar", "22050", str(dst)],
        check=True)


@pytest.fixture(scope="module")
def rml_tree(tmp_path_factory) -> Path:
    """rml-1/s1..s5, rml-2/s6..s8 (s7 with English/ and Mandarin/ levels), 2 clips each."""
    need(RAVDESS)
    root = tmp_path_factory.mktemp("rml")
    layout = {f"rml-1/s{i}": [""] for i in range(1, 6)}
    layout.update({"rml-2/s6": [""], "rml-2/s7": ["English/", "Mandarin/"], "rml-2/s8": [""]})
    for n, (subject, languages) in enumerate(layout.items()):
        actor = f"{n % 8 + 1:02d}"
        for lang in languages:
            for code in ("an", "sa"):
                src = next((RAVDESS / f"Actor_{actor}").glob(f"03-01-{EMOTION_FILES[code]}-*"))
                real_avi(src, root / subject / f"{lang}{code}1.avi")
    return root


def test_rml_archive_root_gives_eight_subjects(rml_tree, tmp_path):
    entries = scan("rml", rml_tree)
    assert all(e.reject is None for e in entries)
    assert Counter(e.speaker for e in entries) == {
        **{f"s{i}": 2 for i in range(1, 9)}, "s7": 4}
    s7 = {e.rel: e.meta for e in entries if e.speaker == "s7"}
    assert s7["rml-2/s7/English/an1.avi"] == {"take": "1", "archive": "rml-2",
                                              "language": "English"}
    assert {m["language"] for m in s7.values()} == {"English", "Mandarin"}
    assert all("language" not in e.meta for e in entries if e.speaker != "s7")
    assert {e.label for e in entries} == {"angry", "sad"}
    man = audio_stage(entries, tmp_path)
    assert (man["status"] == "ok").all(), man[["rel_path", "reason"]]
    assert set(man["speaker"]) == {f"s{i}" for i in range(1, 9)}
    assert man.loc[man["speaker"] == "s7", "meta_language"].tolist() == [
        "English", "English", "Mandarin", "Mandarin"]
    assert (man["sample_rate"] == 22050).all() and man["duration"].between(1.3, 1.6).all()


def test_rml_one_archive_or_one_subject(rml_tree):
    assert {e.speaker for e in scan("rml", rml_tree / "rml-1")} == {f"s{i}" for i in range(1, 6)}
    one = scan("rml", rml_tree / "rml-2" / "s7")  # one subject's folder as the dataset path
    assert {(e.speaker, e.meta["language"]) for e in one} == {("s7", "English"),
                                                              ("s7", "Mandarin")}


# ---------------------------------------------------------------- file lists (format: list)


def test_list_csv_real_files_own_labels_and_metadata(tmp_path):
    rav = need(RAVDESS)
    clips = sorted((rav / "Actor_01").glob("*.flac"))[:4]
    local = tmp_path / "audio" / "s1"
    local.mkdir(parents=True)
    (local / "a.flac").symlink_to(clips[0].resolve())
    (local / "notes.txt").write_text("not audio")
    rows = [
        "path,label,speaker,session,gender",
        "audio/s1/a.flac,frustrated,S01,1,F",  # relative to the list, IEMOCAP-style label
        f"{clips[1].resolve()},excited,S01,1,F",  # absolute
        f"{clips[2].resolve()},Anger,S02,2,",  # a synonym maps onto the canonical name
        f"{clips[3].resolve()},neutral,,2,M",  # no speaker in this row: "unknown"
        "audio/s1/missing.wav,sad,S02,2,M",
        "audio/s1/notes.txt,sad,S02,2,M",
        "audio/s1/a.flac,frustrated,S01,1,F",  # the same file twice
        f"{clips[0].resolve()},,S03,3,M",  # no label
    ]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    e = {x.meta["list_row"]: x for x in scan("list", tmp_path / "list.csv")}
    assert (e["2"].rel, e["2"].label, e["2"].speaker, e["2"].reject) == (
        "audio/s1/a.flac", "frustrated", "S01", None)
    assert e["2"].meta == {"session": "1", "gender": "F", "list_row": "2"}
    assert (e["3"].label, e["3"].rel) == ("excited", str(clips[1].resolve()).lstrip("/"))
    assert (e["4"].original_label, e["4"].label, e["4"].speaker) == ("Anger", "angry", "S02")
    assert (e["5"].speaker, e["5"].reject) == ("unknown", None)
    assert e["6"].reject == "file not found"
    assert e["7"].reject == "not an audio or video file (.txt)"
    assert e["8"].reject == "listed twice (first at row 2)" and e["8"].rel.endswith("#row8")
    assert e["9"].reject == "no label in the list row"
    assert len({x.rel for x in e.values()}) == 8  # every row its own id
    only = {x.meta["list_row"]: x for x in scan("list", tmp_path / "list.csv",
                                                  {"emotions": ["neutral", "angry"]})}
    assert only["2"].reject == "emotion 'frustrated' not in config emotions"
    assert only["4"].reject is None
    ok = [x for x in e.values() if x.reject is None]
    man = audio_stage(ok, tmp_path / "out")
    assert (man["status"] == "ok").all() and set(man["label"]) == {
        "frustrated", "excited", "angry", "neutral"}
    assert set(man["meta_session"]) == {"1", "2"}


def test_list_tsv_with_own_column_names_and_speaker_from(tmp_path):
    rav = need(RAVDESS)
    for actor in ("01", "02"):
        folder = tmp_path / "corpus" / f"spk{actor}"
        folder.mkdir(parents=True)
        for f in sorted((rav / f"Actor_{actor}").glob("*.flac"))[:2]:
            (folder / f.name).symlink_to(f.resolve())
    files = sorted((tmp_path / "corpus").glob("*/*.flac"))
    lines = ["file\temotion"] + [f"corpus/{f.parent.name}/{f.name}\tcustomer_angry"
                                 for f in files]
    (tmp_path / "calls.tsv").write_text("\n".join(lines) + "\n")
    opts = {"path_column": "file", "label_column": "emotion", "speaker_from": "parent"}
    entries = scan("list", tmp_path / "calls.tsv", opts)
    assert [(e.speaker, e.label, e.reject) for e in entries] == [
        ("spk01", "customer_angry", None)] * 2 + [("spk02", "customer_angry", None)] * 2
    with pytest.raises(ValueError, match="calls.tsv has no label column 'label'; set "
                                         "label_column to one of: file, emotion"):
        scan("list", tmp_path / "calls.tsv", {"path_column": "file"})
