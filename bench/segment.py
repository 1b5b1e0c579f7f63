"""Benchmark: how well each VAD of `ser predict --segment` finds utterances, and how fast.

    python bench/segment.py [--actors 8] [--pause 1.0] [--clean-only] [--json OUT]

Long recordings are joined from real RAVDESS clips (../shared/data/ravdess-dev): per actor one
clip of each of the 8 emotions, separated by --pause seconds of silence (ser.segment.join_clips).
The reference span of each utterance is what the workflow's silence trimming (audio.trim_db:
30, librosa, 25 ms frames) keeps of its clip: its speech, without the silent lead-in and tail.
Each VAD segments the joined file clean and with pink noise mixed in at 20, 10 and 0 dB SNR
(over the whole file), with the default segmentation except pad 0 (so the errors are the VAD's own).

Measured per VAD and condition:
  found      references overlapped by exactly one segment / all references
  split      references overlapped by more than one segment; missed: by none
  extra      segments that overlap no reference (false alarms)
  start/end  median and 95th-percentile |error| in seconds of the matched boundaries
  within     share of boundaries within 0.2 s of the reference (the test's tolerance)
  speed      seconds of VAD + segmentation per minute of audio, and its ratio to the energy VAD
             measured in the same run (the machine may be shared: load average printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ser.audio import decode  # noqa: E402
from ser.augment import make_noise, mix_at_snr  # noqa: E402
from ser.segment import VADS, SegmentParams, find_segments, join_clips  # noqa: E402

RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"
SR = 16000
CONDITIONS = [None, 20.0, 10.0, 0.0]


def recordings(actors: int, pause: float, ref_db: float = 30.0
               ) -> list[tuple[str, np.ndarray, list]]:
    rng = np.random.default_rng(0)
    out = []
    for a in range(1, actors + 1):
        folder = RAVDESS / f"Actor_{a:02d}"
        clips = []
        for emo in rng.permutation(8) + 1:
            files = sorted(folder.glob(f"03-01-{emo:02d}-*.flac"))
            clips.append(decode(files[int(rng.integers(len(files)))], SR))
        signal, _, speech = join_clips(clips, SR, pause, ref_db)
        out.append((folder.name, signal, speech))
    return out


def score(segments: list[tuple[float, float]], refs: list[tuple[float, float]]) -> dict:
    found = split = missed = 0
    errs_start, errs_end = [], []
    used = set()
    for ra, rb in refs:
        hits = [i for i, (a, b) in enumerate(segments) if a < rb and b > ra]
        used.update(hits)
        if not hits:
            missed += 1
            continue
        if len(hits) > 1:
            split += 1
        else:
            found += 1
        errs_start.append(abs(segments[hits[0]][0] - ra))
        errs_end.append(abs(segments[hits[-1]][1] - rb))
    return {"refs": len(refs), "found": found, "split": split, "missed": missed,
            "extra": len(segments) - len(used), "start": errs_start, "end": errs_end}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--actors", type=int, default=8)
    ap.add_argument("--pause", type=float, default=1.0)
    ap.add_argument("--ref-db", type=float, default=30.0,
                    help="reference speech: what silence trimming at this top_db keeps")
    ap.add_argument("--clean-only", action="store_true", help="skip the noisy conditions")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not RAVDESS.is_dir():
        print(f"needs {RAVDESS}", file=sys.stderr)
        return 2
    recs = recordings(args.actors, args.pause, args.ref_db)
    minutes = sum(s.size for _, s, _ in recs) / SR / 60
    print(f"{len(recs)} recordings, {sum(len(r) for *_, r in recs)} utterances, "
          f"{minutes * 60:.0f} s of audio; load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(1)
    conditions = [None] if args.clean_only else CONDITIONS
    noisy = {snr: [(n, s if snr is None else mix_at_snr(s, make_noise("pink", s.size, rng), snr),
                    r) for n, s, r in recs] for snr in conditions}
    results: dict = {}
    speed: dict = {}
    for vad in VADS:
        params = SegmentParams(vad=vad, pad=0.0)
        find_segments(recs[0][1][:SR], SR, params)  # load the model before timing
        for snr in conditions:
            total = {"refs": 0, "found": 0, "split": 0, "missed": 0, "extra": 0,
                     "start": [], "end": []}
            t0 = time.perf_counter()
            segs = [find_segments(s, SR, params) for _, s, _ in noisy[snr]]
            dt = time.perf_counter() - t0
            if snr is None:
                speed[vad] = dt / minutes
            for seg, (_, _, refs) in zip(segs, noisy[snr], strict=True):
                for k, v in score(seg, refs).items():
                    total[k] += v
            errs = np.array(total["start"] + total["end"])
            results[(vad, snr)] = {
                **{k: total[k] for k in ("refs", "found", "split", "missed", "extra")},
                "start_median": float(np.median(total["start"])) if total["start"] else None,
                "start_p95": float(np.percentile(total["start"], 95)) if total["start"] else None,
                "end_median": float(np.median(total["end"])) if total["end"] else None,
                "end_p95": float(np.percentile(total["end"], 95)) if total["end"] else None,
                "within_0.2s": float(np.mean(errs <= 0.2)) if errs.size else 0.0,
            }
    head = (f"{'vad':8} {'SNR':>5} {'found':>7} {'split':>5} {'missed':>6} {'extra':>5} "
            f"{'start med/p95':>14} {'end med/p95':>14} {'<=0.2s':>7}")
    print(head)
    for (vad, snr), r in results.items():
        def f(m: float | None, p: float | None) -> str:
            return "-" if m is None else f"{m:.2f}/{p:.2f}"

        print(f"{vad:8} {'clean' if snr is None else f'{snr:g}':>5} "
              f"{r['found']:>3}/{r['refs']:<3} {r['split']:>5} {r['missed']:>6} {r['extra']:>5} "
              f"{f(r['start_median'], r['start_p95']):>14} {f(r['end_median'], r['end_p95']):>14}"
              f" {r['within_0.2s']:>7.0%}")
    base = speed["energy"]
    print("speed (s per minute of audio, clean): " + ", ".join(
        f"{v} {s:.3f} ({s / base:.1f}x energy)" for v, s in speed.items())
        + f"; load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({
            "results": [{"vad": v, "snr_db": s, **r} for (v, s), r in results.items()],
            "seconds_per_audio_minute": speed, "load_average": os.getloadavg()[0]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
