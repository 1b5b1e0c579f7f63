"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
TRAIN_ACTORS = ("01", "02", "03", "04")
REAL_AUDIO = {"sample_rate": 16000, "min_duration": 0.3, "silence_dbfs": -60.0, "trim_db": 30.0}


@pytest.fixture(scope="session")
def ravdess_model(tmp_path_factory) -> Path:
    """A model trained on real speech by the workflow's own stages: RAVDESS actors 01-04
    (240 clips), silence trimmed at 30 dB as in config/accuracy.yaml, eGeMAPS, logistic
    regression; two speaker folds, so ``MODEL_DIR`` averages two bundles (tests use clips of
    actors 05-08, never seen in training)."""
    if not RAVDESS.is_dir():
        pytest.skip("../shared/data/ravdess-dev not present")
    from ser.corpora import scan
    from ser.features import read_features, run_features_shard
    from ser.manifest import run_audio_shard
    from ser.splits import make_splits, save_splits
    from ser.train import train_fold

    tmp = tmp_path_factory.mktemp("ravdess_model")
    corpus = tmp / "corpus"
    for actor in TRAIN_ACTORS:
        (corpus / f"Actor_{actor}").mkdir(parents=True)
        for f in sorted((RAVDESS / f"Actor_{actor}").glob("*.flac")):
            (corpus / f"Actor_{actor}" / f.name).symlink_to(f.resolve())
    entries = scan("ravdess", corpus, {})
    manifest = tmp / "audio.parquet"
    run_audio_shard(entries, [e.rel for e in entries], 0, manifest, tmp / "wav",
                    sample_rate=16000, min_duration=0.3, trim_db=REAL_AUDIO["trim_db"])
    table = tmp / "egemaps.parquet"
    run_features_shard(manifest, None, "egemaps", table, tmp / "rejected.parquet",
                       dataset="ravdess")
    meta, _, _ = read_features(table)
    splits = tmp / "splits.parquet"
    save_splits(make_splits(meta, "speaker_kfold",
                            fold_speakers=[["01", "02"], ["03", "04"]]), splits,
                {"smote": "none"})
    model = tmp / "models" / "ravdess" / "logreg"
    for k in (0, 1):
        train_fold(table, splits, k, {"arch": "logreg", "features": "egemaps"},
                   model / f"fold{k}", tmp / "eval" / f"fold{k}.parquet", dataset="ravdess",
                   model_name="logreg", audio=REAL_AUDIO)
    return model


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_ser_serve(model_dir: str | Path, *args: str, cwd: Path | None = None,
                      timeout: float = 180.0) -> Iterator[str]:
    """`ser serve MODEL_DIR ARGS...` as its own process (real uvicorn) on a free port; yields
    its URL once /health answers; stopped on exit."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ser.cli", "serve", str(model_dir),
                             "--port", str(port), *args],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"ser serve exited: {proc.stdout.read()}")  # type: ignore[union-attr]
            if time.time() > deadline:
                pytest.fail(f"ser serve did not answer /health within {timeout:g} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def ser_server(ravdess_model):
    """`ser serve MODEL_DIR` for the real-speech model, started from its results folder with
    MODEL_DIR given as models/ravdess/logreg, as a user would. Started with --max-upload-mb 1
    so that tests can reach the limit with small files."""
    results = ravdess_model.parents[2]
    with running_ser_serve(ravdess_model.relative_to(results), "--max-upload-mb", "1",
                           "--jobs", "2", cwd=results) as url:
        yield url
