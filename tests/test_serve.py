"""`ser serve`: the JSON API with a real client (FastAPI's TestClient over httpx), and the same
app as a real uvicorn process started by the `ser` command, on real RAVDESS / CREMA-D media."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import pytest
import soundfile as sf

from ser.audio import decode, ffmpeg_exe
from ser.cli import main as cli_main
from ser.predict_output import PREDICT_JSON_SCHEMA
from ser.segment import join_clips
from ser.serve import Service, create_app, display_name

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CLIP = DATA / "ravdess-dev" / "Actor_07" / "03-01-05-02-01-01-07.flac"
FLV = DATA / "cremad-sample" / "media" / "1001_DFA_ANG_XX.flv"
LIMIT_MB = 1.0

pytestmark = pytest.mark.ravdess


def cli_json(capsys, *argv: str) -> dict:
    capsys.readouterr()
    cli_main(["predict", *argv, "--format", "json"])
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def client(ravdess_model):
    from fastapi.testclient import TestClient

    service = Service(ravdess_model, jobs=1)
    with TestClient(create_app(service, max_upload_mb=LIMIT_MB)) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c
    assert not service.tmp_root.exists()  # the private temporary folder goes at shutdown


def post(client, path: Path, name: str | None = None, **form) -> httpx.Response:
    with open(path, "rb") as fh:
        return client.post("/predict", files={"file": (name or path.name, fh)},
                           data={k: str(v).lower() for k, v in form.items()})


def test_health_and_model_describe_the_loaded_model(client, ravdess_model) -> None:
    assert client.get("/health").json()["status"] == "ok"
    m = client.get("/model").json()
    assert m["labels"][:2] == ["neutral", "calm"] and len(m["labels"]) == 8
    assert m["feature_sets"] == ["egemaps"]
    assert m["training_corpus"] == ["ravdess"]
    assert m["corpus"]["synthetic"] is False and m["bundle_kind"] in ("folds", "fold", "final")
    assert [b["train_speakers"] for b in m["bundles"]] == [["03", "04"], ["01", "02"]]
    page = client.get("/")
    assert page.status_code == 200 and "MediaRecorder" in client.get("/static/app.js").text
    assert 'id="record"' in page.text


def test_upload_gets_the_json_of_ser_predict(client, ravdess_model, capsys) -> None:
    r = post(client, CLIP)
    assert r.status_code == 200
    doc = r.json()
    jsonschema.validate(doc, PREDICT_JSON_SCHEMA)
    (f,) = doc["files"]
    assert f["path"] == CLIP.name  # the client's name is echoed, never the server's temp path
    want = cli_json(capsys, str(ravdess_model), str(CLIP), "--threshold", "0.5")["files"][0]
    assert f["label"] == want["label"]
    for lab, p in want["probabilities"].items():
        assert f["probabilities"][lab] == pytest.approx(p, abs=1e-9)
    assert doc["threshold"] == 0.5 and f["uncertain"] == (f["confidence"] < 0.5)


def test_videos_are_decoded_like_files(client, ravdess_model, tmp_path, capsys) -> None:
    mp4 = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=blue:s=64x64:r=25:d=3.2", "-i", str(CLIP), "-shortest", "-c:v",
                    "mpeg4", "-c:a", "aac", str(mp4)], check=True)
    for video in (mp4, FLV):
        r = post(client, video)
        assert r.status_code == 200, r.text
        f = r.json()["files"][0]
        want = cli_json(capsys, str(ravdess_model), str(video))["files"][0]
        assert f["status"] == "ok" and f["label"] == want["label"]
        assert f["probabilities"] == pytest.approx(want["probabilities"], abs=1e-9)


def test_a_broken_file_is_refused_with_its_reason(client, tmp_path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 20)
    r = post(client, bad)
    assert r.status_code == 422
    doc = r.json()
    jsonschema.validate(doc, PREDICT_JSON_SCHEMA)
    assert doc["files"][0]["status"] == "error"
    assert doc["files"][0]["reason"].startswith(("unreadable", "decode failed", "no audio"))
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(800, np.float32) + 0.1, 16000)
    r = post(client, short)
    assert r.status_code == 422 and "too short" in r.json()["files"][0]["reason"]
    assert client.post("/predict").status_code == 422  # no file field at all


def test_an_oversized_upload_gets_a_clear_413(client, tmp_path) -> None:
    big = tmp_path / "big.wav"
    sf.write(big, np.random.default_rng(0).normal(0, 0.1, 40 * 16000).astype(np.float32), 16000)
    assert big.stat().st_size > LIMIT_MB * 1e6
    r = post(client, big)
    assert r.status_code == 413
    assert "limit is 1 MB" in r.json()["detail"] and "--max-upload-mb" in r.json()["detail"]
    assert client.get("/health").status_code == 200  # and the server goes on


def test_client_file_names_never_reach_the_disk(client, tmp_path) -> None:
    r = post(client, CLIP, name="../../../../tmp/evil\\name;rm -rf.flac")
    assert r.status_code == 200
    assert r.json()["files"][0]["path"] == "name_rm -rf.flac"
    assert not Path("/tmp/evil").exists()
    assert display_name("a/b/../c.wav") == "c.wav" and display_name(None) == "upload"
    assert list(client.service.tmp_root.iterdir()) == []  # every upload was removed


def test_segments_when_asked(client, tmp_path) -> None:
    clips = [decode(DATA / "ravdess-dev" / f"Actor_0{a}" / n, 16000)
             for a, n in [(5, "03-01-02-02-01-01-05.flac"), (8, "03-01-04-02-01-01-08.flac"),
                          (7, "03-01-05-02-01-01-07.flac")]]
    signal, _, speech = join_clips(clips, 16000, pause=1.0)
    path = tmp_path / "talk.wav"
    sf.write(path, signal, 16000, subtype="PCM_16")
    doc = post(client, path, segment=True).json()
    jsonschema.validate(doc, PREDICT_JSON_SCHEMA)
    f = doc["files"][0]
    assert len(f["segments"]) == 3
    assert [s["start"] for s in f["segments"]] == pytest.approx([a for a, _ in speech], abs=0.2)
    assert doc["segmentation"]["vad"] == "silero"
    assert "segments" not in post(client, path).json()["files"][0]


# --------------------------------------------------------------------------- real server


def test_real_server_binds_localhost_and_serves_concurrent_uploads(ser_server) -> None:
    server = ser_server
    host_ip = socket.gethostbyname(socket.gethostname())
    if host_ip != "127.0.0.1":  # the default --host is loopback only
        port = int(server.rsplit(":", 1)[1])
        with pytest.raises(OSError), socket.create_connection((host_ip, port), timeout=2):
            pass
    data = CLIP.read_bytes()
    first = httpx.post(f"{server}/predict", files={"file": ("a.flac", data)}, timeout=60).json()
    out: list[dict] = []

    def worker() -> None:
        r = httpx.post(f"{server}/predict", files={"file": ("a.flac", data)}, timeout=120)
        out.append(r.json())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4
    for doc in out:
        assert doc["files"][0]["probabilities"] == first["files"][0]["probabilities"]


def test_real_server_cuts_off_a_chunked_oversized_body(ser_server) -> None:
    server = ser_server
    def chunks():  # a well-formed start of a file part, then 2.6 MB without a Content-Length
        yield (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
               b"Content-Type: application/octet-stream\r\n\r\n")
        for _ in range(40):
            yield b"\0" * 65536

    r = httpx.post(f"{server}/predict", content=chunks(),
                   headers={"content-type": "multipart/form-data; boundary=x"}, timeout=60)
    assert r.status_code == 413
    assert httpx.get(f"{server}/health").status_code == 200
