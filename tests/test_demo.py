"""Tests of the embedded demo corpus synthesiser (ser.demo).

The corpus is made once per module (2 actors x 8 emotions x 1 statement = 16 files, twice) with
real ffmpeg encoders and decoded back with the same binary, so every check sees real files.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ser import demo

NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
SMALL = dict(n_speakers=2, statements=1, repetitions=1, seed=3, avi_every=6)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path, list[Path]]:
    root = tmp_path_factory.mktemp("demo")
    a = demo.make_demo_corpus(root / "a", **SMALL)
    b = demo.make_demo_corpus(root / "b", **SMALL)
    return root / "a", a, root / "b", b


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ffmpeg(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([demo.ffmpeg_exe(), "-hide_banner", *args], capture_output=True)


def _decode(path: Path, sr: int = 16000) -> np.ndarray:
    proc = _ffmpeg(
        "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr), "-f", "s16le", "-"
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.float32) / 32768.0


def _fields(path: Path) -> dict[str, int]:
    m = NAME.match(path.stem)
    assert m, path.name
    keys = ("modality", "channel", "emotion", "intensity", "statement", "repetition", "actor")
    return dict(zip(keys, map(int, m.groups()), strict=True))


def _by(files: list[Path], **want: int) -> list[Path]:
    return [f for f in files if all(_fields(f)[k] == v for k, v in want.items())]


def test_byte_identical_across_generations(corpus) -> None:
    root_a, files_a, root_b, files_b = corpus
    rel_a = sorted(p.relative_to(root_a).as_posix() for p in files_a)
    rel_b = sorted(p.relative_to(root_b).as_posix() for p in files_b)
    assert rel_a == rel_b
    # nothing else on disk: no temporary files left behind, every written file returned
    assert (
        sorted(p.relative_to(root_a).as_posix() for p in root_a.rglob("*") if p.is_file()) == rel_a
    )
    for rel in rel_a:
        assert _sha256(root_a / rel) == _sha256(root_b / rel), rel


def test_other_seed_gives_other_audio() -> None:
    x = demo.synthesize_utterance(1, 5, 1, 1, seed=0)
    assert np.array_equal(x, demo.synthesize_utterance(1, 5, 1, 1, seed=0))
    assert not np.array_equal(x[:1000], demo.synthesize_utterance(1, 5, 1, 1, seed=1)[:1000])
    assert not np.array_equal(x[:1000], demo.synthesize_utterance(1, 5, 1, 1, 2, seed=0)[:1000])


def test_names_parse_as_ravdess(corpus) -> None:
    root, files, _, _ = corpus
    assert len(files) == 2 * 8
    seen = set()
    for f in files:
        fl = _fields(f)
        assert f.parent.name == f"Actor_{fl['actor']:02d}"
        assert f.parent.parent == root
        assert (fl["modality"], fl["channel"]) == (1, 1)  # audio-video, speech
        assert 1 <= fl["emotion"] <= 8
        assert fl["intensity"] in (1, 2)
        if fl["emotion"] == 1:
            assert fl["intensity"] == 1  # neutral has no strong intensity
        assert (fl["statement"], fl["repetition"]) == (1, 1)
        seen.add((fl["actor"], fl["emotion"]))
    assert seen == {(a, e) for a in (1, 2) for e in range(1, 9)}
    # odd actors male, even female: the female voice is clearly higher
    assert demo.make_speaker(2, 3).f0_hz > 1.4 * demo.make_speaker(1, 3).f0_hz


def test_corpus_scans_cleanly_as_ravdess(corpus) -> None:
    from ser.corpora import scan

    root, files, _, _ = corpus
    entries = scan("ravdess", root)
    assert [e.reject for e in entries] == [None] * len(files)
    for e in entries:
        assert e.label == demo.EMOTIONS[int(e.original_label)]
        assert int(e.speaker) == _fields(e.path)["actor"]


def test_containers_and_codecs(corpus) -> None:
    _, files, _, _ = corpus
    suffixes = {f.suffix for f in files}
    assert suffixes == {".mp4", ".avi"}
    assert len([f for f in files if f.suffix == ".avi"]) == 16 // 6
    for f in files:
        info = _ffmpeg("-i", str(f)).stderr.decode(errors="replace")  # exits 1: no output
        video, audio = ("h264", "aac") if f.suffix == ".mp4" else ("mpeg4", "pcm_s16le")
        assert re.search(rf"Video: {video}\b.*\b64x48\b", info), info
        assert re.search(rf"Audio: {audio}\b.*\b48000 Hz, mono", info), info
        assert not re.search(r"Lav[fc]\d", info), info  # bitexact: no library versions


def test_audio_decodes_to_speech_length_and_level(corpus) -> None:
    _, files, _, _ = corpus
    for f in files:
        x = _decode(f)
        dur = len(x) / 16000
        assert 1.15 <= dur <= 2.1, (f.name, dur)
        rms_db = 20 * np.log10(np.sqrt(np.mean(x**2)))
        assert -45.0 < rms_db < -10.0, (f.name, rms_db)
        assert np.max(np.abs(x)) < 0.99, f.name  # no clipping
        # silence at the start, speech later: a real utterance, not noise or a tone
        frames = x[: len(x) // 160 * 160].reshape(-1, 160)
        frame_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        assert frame_db[:3].max() < frame_db.max() - 30, f.name
        assert 0.3 < np.mean(frame_db > frame_db.max() - 25) < 0.95, f.name


def _median_f0(x: np.ndarray, sr: int = 16000) -> float:
    import librosa

    f0, voiced, _ = librosa.pyin(x, fmin=60, fmax=600, sr=sr, frame_length=1024, hop_length=160)
    assert voiced.mean() > 0.2
    return float(np.nanmedian(f0[voiced]))


def test_emotions_differ_measurably(corpus) -> None:
    """Angry is louder and higher than sad for every speaker, as in acted speech."""
    _, files, _, _ = corpus
    for actor in (1, 2):
        (angry,) = _by(files, actor=actor, emotion=5)
        (sad,) = _by(files, actor=actor, emotion=4)
        xa, xs = _decode(angry), _decode(sad)
        rms_a, rms_s = np.sqrt(np.mean(xa**2)), np.sqrt(np.mean(xs**2))
        assert 20 * np.log10(rms_a / rms_s) > 4.0, actor
        assert _median_f0(xa) > 2 ** (2 / 12) * _median_f0(xs), actor  # > 2 semitones
        assert len(xs) > len(xa), actor  # sad is slower


def test_video_is_speaker_pattern_not_label(corpus) -> None:
    """The picture depends on the actor only: it must not leak the emotion."""
    _, files, _, _ = corpus

    def first_frame(path: Path) -> np.ndarray:
        proc = _ffmpeg(
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        )
        assert proc.returncode == 0
        return np.frombuffer(proc.stdout, dtype=np.uint8).astype(np.int16)

    frames = {f: first_frame(f) for f in files}
    for img in frames.values():
        assert img.size == 64 * 48
        assert img.std() > 5  # a pattern, not a blank frame
    for actor in (1, 2):
        mine = [img for f, img in frames.items() if _fields(f)["actor"] == actor]
        for img in mine[1:]:
            assert np.abs(img - mine[0]).mean() < 2.0
    one = next(img for f, img in frames.items() if _fields(f)["actor"] == 1)
    two = next(img for f, img in frames.items() if _fields(f)["actor"] == 2)
    assert np.abs(one - two).mean() > 5.0


def test_default_plan() -> None:
    clips = demo.plan_corpus()
    assert len(clips) == 96
    assert len({c.rel for c in clips}) == 96
    assert [c.rel for c in clips] == sorted(c.rel for c in clips)
    avi = [c for c in clips if c.container == "avi"]
    assert len(avi) == 16
    assert len({c.emotion for c in avi}) >= 6  # container does not follow the label
    for actor in range(1, 7):
        for emotion in range(1, 9):
            mine = [c for c in clips if (c.actor, c.emotion) == (actor, emotion)]
            want = [1, 1] if emotion == 1 else [1, 2]
            assert sorted(c.intensity for c in mine) == want
    assert [c.container for c in demo.plan_corpus(avi_every=0)] == ["mp4"] * 96


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(statements=3),
        dict(n_speakers=0),
        dict(n_speakers=25),
        dict(repetitions=0),
        dict(avi_every=-1),
    ],
)
def test_invalid_arguments(kwargs: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        demo.make_demo_corpus(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_prosody_table_is_complete() -> None:
    keys = set(demo.PROSODY["neutral"])
    assert set(demo.PROSODY) == set(demo.EMOTIONS.values())
    for name, table in demo.PROSODY.items():
        assert set(table) == keys, name
    with pytest.raises(ValueError):
        demo.synthesize_utterance(1, 1, 2, 1)  # neutral has no strong intensity


def test_generator_id_follows_the_generator_source() -> None:
    """The demo rule's `generator` param: the same source gives the same id, any edit a new one
    (so Snakemake regenerates the corpus when the generator changes)."""
    source = Path(demo.__file__).read_bytes()
    assert demo.generator_id() == demo.generator_id()
    assert demo.generator_id() == hashlib.blake2b(source, digest_size=8).hexdigest()
    rules = (Path(__file__).resolve().parents[1] / "workflow" / "rules" / "audio.smk").read_text()
    assert "generator=demo_generator_id()" in rules
