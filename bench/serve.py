"""Benchmark: `ser serve` latency per 3 s request, against the same prediction in-process.

    python bench/serve.py [MODEL_DIR] [--requests 20] [--json OUT]

MODEL_DIR defaults to results/models/demo/late_fusion (run `make demo` first). A 3 s RAVDESS
clip (../shared/data/ravdess-dev; a demo clip when absent) is posted to a real `ser serve`
process (uvicorn, --jobs 2) on a free port.

Measured (best and median of --requests, after one warm-up request):
  request          one POST /predict, whole-file prediction (upload, temp file, decode,
                   features in a worker, model, JSON), wall time seen by the client;
  request+segment  the same with segment=true (VAD + per-segment features);
  4 concurrent     wall time of 4 simultaneous requests, divided by 4;
  baseline         Predictor.predict_files on the same file in this process (jobs=1, warm),
                   i.e. the prediction without HTTP: the ratio shows what serving adds.
The machine may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEFAULT_MODEL = ROOT / "results" / "models" / "demo" / "late_fusion"
CLIP = ROOT / ".." / "shared" / "data" / "ravdess-dev" / "Actor_07" / "03-01-05-02-01-01-07.flac"
DEMO_CLIP = ROOT / "results" / "demo" / "demo" / "Actor_01" / "01-01-05-01-01-01-01.mp4"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    import httpx
    import numpy as np
    import soundfile as sf

    from ser.audio import decode
    from ser.predict import Predictor

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", nargs="?", default=str(DEFAULT_MODEL))
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not Path(args.model_dir).is_dir():
        print(f"no model at {args.model_dir}: run `make demo` or give MODEL_DIR", file=sys.stderr)
        return 2
    source = CLIP if CLIP.is_file() else DEMO_CLIP
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    y = decode(source, 16000)[: 3 * 16000]
    y = np.pad(y, (0, 3 * 16000 - y.size))
    clip = tmp / "clip3s.wav"
    sf.write(clip, y, 16000, subtype="PCM_16")
    data = clip.read_bytes()

    with Predictor(args.model_dir, jobs=1) as p:
        p.predict_files([clip])
        base = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            p.predict_files([clip])
            base.append(time.perf_counter() - t0)

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ser.cli", "serve", args.model_dir, "--port",
                             str(port), "--jobs", "2"], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.perf_counter() - t0 > 180:
                    print("ser serve did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        startup = time.perf_counter() - t0

        def post(segment: bool = False) -> float:
            t = time.perf_counter()
            r = httpx.post(f"{url}/predict", files={"file": ("clip.wav", data)},
                           data={"segment": str(segment).lower()}, timeout=120)
            r.raise_for_status()
            return time.perf_counter() - t

        post()
        post(True)
        whole = [post() for _ in range(args.requests)]
        seg = [post(True) for _ in range(args.requests)]
        conc = []
        for _ in range(max(1, args.requests // 4)):
            threads = [threading.Thread(target=post) for _ in range(4)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            conc.append((time.perf_counter() - t) / 4)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    load = os.getloadavg()[0]
    rows = {"request": whole, "request+segment": seg, "4 concurrent (per request)": conc,
            "baseline (in-process predict_files)": base}
    b = statistics.median(base)
    print(f"model {args.model_dir}; 3 s clip from {source.name}; server start-up {startup:.1f} s;"
          f" load average {load:.2f}")
    for name, v in rows.items():
        med = statistics.median(v)
        print(f"  {name:38s} best {min(v):.3f} s  median {med:.3f} s  ({med / b:.1f}x baseline)")
    if args.json:
        args.json.write_text(json.dumps({"startup_s": startup, "load_average": load, **{
            k: {"best": min(v), "median": statistics.median(v)} for k, v in rows.items()}},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
