"""The `ser` command: `ser demo-corpus OUT_DIR`, `ser predict MODEL_DIR FILE...`.

Sub-commands import their modules lazily so `ser --help` answers at once (no TensorFlow start-up).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo_corpus(args: argparse.Namespace) -> int:
    from ser.demo import make_demo_corpus

    files = make_demo_corpus(Path(args.out_dir), n_speakers=args.speakers,
                             statements=args.statements, repetitions=args.repetitions,
                             seed=args.seed)
    print(f"wrote {len(files)} clips to {args.out_dir}")
    return 0


def _dvc_metrics(args: argparse.Namespace) -> int:
    from ser.dvcviews import write_dvc_views

    summary = write_dvc_views(Path(args.results), Path(args.out))
    print(f"wrote {args.out}/metrics.json ({sum(len(v) for v in summary.values())} models)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ser.predict import main as predict_main

    return predict_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ser", description="Speech emotion recognition workflow tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo-corpus", help="synthesise the embedded demo corpus (RAVDESS-style videos)",
        description="Synthesise short emotional 'speech' clips offline and deterministically, "
                    "stored as MP4/AVI videos with RAVDESS names (Actor_XX/01-01-EE-II-SS-RR-AA).")
    demo.add_argument("out_dir", help="folder to write Actor_XX/ sub-folders into")
    demo.add_argument("--speakers", type=int, default=6, help="number of actors (default 6)")
    demo.add_argument("--statements", type=int, default=2, choices=[1, 2])
    demo.add_argument("--repetitions", type=int, default=1, choices=[1, 2])
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo_corpus)

    views = sub.add_parser(
        "dvc-metrics", help="write the metrics/ views that dvc metrics and dvc plots read",
        description="Summarise results/eval/*/*/metrics.json (and cross-corpus runs) into "
                    "OUT/metrics.json and copy the confusion and SNR tables to OUT/confusion "
                    "and OUT/snr, outside results/ so DVC can keep them in git.")
    views.add_argument("results", nargs="?", default="results")
    views.add_argument("out", nargs="?", default="metrics")
    views.set_defaults(func=_dvc_metrics)

    from ser.predict import add_arguments

    pred = sub.add_parser(
        "predict", help="classify audio or video files with a trained model bundle",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_PREDICT_DESCRIPTION, epilog=_PREDICT_EPILOG)
    add_arguments(pred)
    pred.set_defaults(func=_predict)
    return parser


_PREDICT_DESCRIPTION = """\
Classify audio or video files (any container the workflow's audio stage accepts; folders are
searched recursively) with a model trained by the workflow. MODEL_DIR is a results/models/DATASET/
MODEL folder (its fold bundles are averaged) or one fold{K} bundle."""

_PREDICT_EPILOG = (
    "examples, after `make demo` (the workflow on the embedded demo corpus):\n"
    "  ser predict results/models/demo/conf_dnn results/demo/demo/Actor_01\n"
    "  ser predict results/models/demo/svm results/demo/demo/Actor_02/01-01-05-01-02-01-02.mp4"
    " --format json --threshold 0.5\n"
    "  ser predict results/models/demo/cnn results/demo/demo --fold 0 --format csv\n"
    "\n"
    """\
exit status: 0 when every file was classified, 1 when some file could not be read (it is listed
with its reason), 2 on a usage error."""
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
