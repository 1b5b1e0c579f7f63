"""The `ser` command line: `ser demo-corpus OUT_DIR`, `ser dvc-metrics`, `ser predict MODEL_DIR
FILE...` (options, input expansion, output and exit status; the work is in :mod:`ser.predict`)
and `ser serve MODEL_DIR` (the server is :mod:`ser.serve`).

`ser --help` answers at once: nothing imported here loads TensorFlow (Keras models load it only
when a bundle without a LiteRT copy is loaded), FastAPI (only when serving) or matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ser.adapt import ADAPT_BY, DEFAULT_MIN_CLIPS, Grouping
from ser.checks import check_file, report
from ser.corpora import MEDIA_EXTENSIONS
from ser.demo import make_demo_corpus
from ser.dvcviews import write_dvc_views
from ser.errors import ConfigError, UsageError
from ser.models import RUNTIMES
from ser.predict import Predictor
from ser.predict_output import FileResult, PredictResult, format_table, write_csv
from ser.segment import VADS, SegmentParams
from ser.serve import DEFAULT_MAX_UPLOAD_MB, DEFAULT_THRESHOLD, SERVE_DESCRIPTION, serve
from ser.timeline import plot_timelines


def _demo_corpus(args: argparse.Namespace) -> int:
    files = make_demo_corpus(Path(args.out_dir), n_speakers=args.speakers,
                             statements=args.statements, repetitions=args.repetitions,
                             seed=args.seed)
    print(f"wrote {len(files)} clips to {args.out_dir}")
    return 0


def _dvc_metrics(args: argparse.Namespace) -> int:
    summary = write_dvc_views(Path(args.results), Path(args.out))
    print(f"wrote {args.out}/metrics.json ({sum(len(v) for v in summary.values())} models)")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    try:
        lines = check_file(args.config, args.directory)
    except ConfigError as exc:
        print(report(exc), file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    for line in lines:
        print(f"  {line}")
    return 0


# --------------------------------------------------------------------------- predict


def expand_inputs(inputs: Sequence[str]) -> tuple[list[str | FileResult], list[str]]:
    """Files as given and media files found recursively in folders (sorted, hidden skipped).

    Returns the items in order (a path to classify, or an error result for a folder without
    media files) and notes about skipped non-media files. Duplicates are listed once.
    """
    exts = MEDIA_EXTENSIONS
    items: list[str | FileResult] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            items.append(p)

    for raw in inputs:
        if not os.path.isdir(raw):
            add(raw)
            continue
        found, skipped = [], 0
        for root, dirs, names in os.walk(raw):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                if os.path.splitext(name)[1].lower() in exts:
                    found.append(os.path.join(root, name))
                else:
                    skipped += 1
        if skipped:
            notes.append(f"{raw}: skipped {skipped} file(s) that are not audio/video "
                         f"(extensions: {', '.join(sorted(exts))})")
        if not found:
            items.append(FileResult(raw, "error", reason="folder holds no audio or video file"))
        for f in found:
            add(f)
    return items, notes


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the command-line options of `ser predict`."""
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="results/models/DATASET (the leaderboard's best model), "
                        "results/models/DATASET/MODEL (its final bundle, trained on all clips) "
                        "or one bundle folder")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER",
                   help="audio/video files; folders are searched recursively")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table",
                   help="output format (default: table)")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="mark a file 'uncertain' when its confidence is below T (0..1; "
                        "default: never)")
    p.add_argument("--fold", type=int, default=None, metavar="K",
                   help="use only bundle fold{K} of MODEL_DIR (reproduces that fold's "
                        "evaluation)")
    p.add_argument("--folds", action="store_true",
                   help="average the fold bundles of MODEL_DIR instead of its final bundle")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for decoding and features (default: CPU count; "
                        "0 = in the main process)")
    p.add_argument("--adapt-by", choices=ADAPT_BY, default=None, metavar="HOW",
                   help="speaker-adaptive prediction for models trained with normalize: "
                        "speaker: group the files by speaker (folder: one folder per speaker; "
                        "regex: --speaker-regex on the path; file-list: --speaker-list CSV "
                        "path,speaker; all: every file is one speaker) and standardise each "
                        "group with its own clips, as evaluation does; groups smaller than "
                        "--adapt-min-clips use the strict model (fallback: strict)")
    p.add_argument("--adapt-min-clips", type=int, default=DEFAULT_MIN_CLIPS, metavar="N",
                   help=f"smallest group standardised with its own clips (default "
                        f"{DEFAULT_MIN_CLIPS})")
    p.add_argument("--speaker-regex", default=None, metavar="PATTERN",
                   help="with --adapt-by regex: group 1 (or the whole match) names the speaker")
    p.add_argument("--speaker-list", default=None, metavar="CSV",
                   help="with --adapt-by file-list: CSV with columns path,speaker (paths "
                        "relative to the CSV's folder)")
    p.add_argument("--runtime", choices=RUNTIMES, default="auto",
                   help="how Keras networks run: auto (default) = their LiteRT copy when the "
                        "bundle has one (starts in ~0.1 s, no TensorFlow), else Keras; keras = "
                        "always TensorFlow; litert = fail without a LiteRT copy")
    seg = p.add_argument_group(
        "long recordings", "--segment finds speech segments with a voice activity detector and "
                           "classifies each one (a file's label is then their duration-weighted "
                           "mean; the output lists the segments and each label's share of time)")
    d = SegmentParams()
    seg.add_argument("--segment", action="store_true",
                     help="classify every speech segment of each file")
    seg.add_argument("--plot", metavar="DIR", default=None,
                     help="write a timeline figure per file to DIR/<name>.timeline.png "
                          "(implies --segment)")
    seg.add_argument("--vad", choices=list(VADS), default=d.vad,
                     help=f"voice activity detector (default {d.vad})")
    seg.add_argument("--vad-threshold", type=float, default=d.threshold, metavar="P",
                     help=f"speech probability that starts a segment (default {d.threshold:g})")
    seg.add_argument("--min-segment", type=float, default=d.min_segment, metavar="S",
                     help=f"drop speech shorter than S seconds (default {d.min_segment:g})")
    seg.add_argument("--max-segment", type=float, default=d.max_segment, metavar="S",
                     help=f"cut longer speech into equal windows of at most S seconds "
                          f"(default {d.max_segment:g})")
    seg.add_argument("--pad", type=float, default=d.pad, metavar="S",
                     help=f"seconds of context added before and after each segment "
                          f"(default {d.pad:g})")
    seg.add_argument("--merge-gap", type=float, default=d.merge_gap, metavar="S",
                     help=f"join segments separated by a pause shorter than S seconds "
                          f"(default {d.merge_gap:g})")


def segment_params(args: argparse.Namespace) -> SegmentParams | None:
    """The segmentation asked for on the command line (None without --segment / --plot);
    UsageError naming the option when a value is out of range."""
    if not (getattr(args, "segment", False) or getattr(args, "plot", None)):
        return None
    params = SegmentParams(vad=args.vad, threshold=args.vad_threshold,
                           min_segment=args.min_segment, max_segment=args.max_segment,
                           pad=args.pad, merge_gap=args.merge_gap)
    try:
        params.check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return params


def run_predict(args: argparse.Namespace) -> tuple[PredictResult, list[str]]:
    """Classify the command line's inputs; returns the result and notes for stderr."""
    threshold = args.threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be within 0..1, got {threshold:g}")
    if args.jobs is not None and args.jobs < 0:
        raise UsageError(f"--jobs must be >= 0, got {args.jobs}")
    segment = segment_params(args)
    items, notes = expand_inputs(args.inputs)
    paths = [i for i in items if isinstance(i, str)]
    jobs = (os.cpu_count() or 1) if args.jobs is None else args.jobs
    jobs = min(jobs, len(paths))
    if getattr(args, "folds", False) and args.fold is not None:
        raise UsageError("--fold K and --folds exclude each other: one fold bundle, or all")
    adapt = None
    if getattr(args, "adapt_by", None):
        adapt = Grouping(args.adapt_by, min_clips=args.adapt_min_clips,
                         regex=args.speaker_regex, file_list=args.speaker_list)
    elif getattr(args, "speaker_regex", None) or getattr(args, "speaker_list", None):
        raise UsageError("--speaker-regex/--speaker-list need --adapt-by regex/file-list")
    with Predictor(args.model_dir, fold=args.fold, jobs=jobs,
                   runtime=getattr(args, "runtime", "auto"),
                   folds=getattr(args, "folds", False), adapt=adapt) as predictor:
        result = predictor.predict_files(paths, threshold, segment=segment)
        if getattr(args, "plot", None):
            figures, problems = plot_timelines(result, Path(args.plot), predictor.audio)
            notes = notes + problems
            print(f"ser predict: wrote {len(figures)} timeline figure(s) to {args.plot}",
                  file=sys.stderr)
    by_path = {f.path: f for f in result.files}
    result.files = [by_path[i] if isinstance(i, str) else i for i in items]
    result.warnings = notes + result.warnings
    return result, result.warnings


def _predict(args: argparse.Namespace) -> int:
    """`ser predict`: 0 when every file was classified, 1 when some failed, 2 on usage errors."""
    try:
        result, notes = run_predict(args)
    except UsageError as exc:
        print(f"ser predict: error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        if args.format == "csv":
            write_csv(result, sys.stdout)
        else:
            sys.stdout.write(format_table(result))
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
    sys.stdout.flush()
    return 0 if result.summary()["error"] == 0 else 1


# --------------------------------------------------------------------------- parser


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

    check = sub.add_parser(
        "check-config", help="run the workflow's start-up checks on a config file",
        description="Check a config as `snakemake --configfile CONFIG` would at start (YAML "
                    "syntax with file and line, schema, paths, speakers and folds from the file "
                    "names, labels) without running anything.")
    check.add_argument("config", nargs="?", default="config/config.yaml")
    check.add_argument("--directory", "-d", default=".",
                       help="working directory the config's relative paths refer to")
    check.set_defaults(func=_check_config)

    pred = sub.add_parser(
        "predict", help="classify audio or video files with a trained model bundle",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_PREDICT_DESCRIPTION, epilog=_PREDICT_EPILOG)
    add_predict_arguments(pred)
    pred.set_defaults(func=_predict)

    serve = sub.add_parser(
        "serve", help="a local web page (microphone or upload) and JSON API for a model",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=SERVE_DESCRIPTION)
    add_serve_arguments(serve)
    serve.set_defaults(func=_serve)
    return parser


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the command-line options of `ser serve`."""
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="results/models/DATASET/MODEL (fold bundles averaged) or one bundle")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 "
                        "exposes the model to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help=f"refuse larger uploads with HTTP 413 (default {DEFAULT_MAX_UPLOAD_MB:g}"
                        f"; 0 = no limit)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="T",
                   help=f"'uncertain' below this confidence unless a request sends its own "
                        f"(default {DEFAULT_THRESHOLD:g})")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes that decode and featurise uploads (default: "
                        "min(2, CPU count))")
    p.add_argument("--runtime", choices=RUNTIMES, default="auto",
                   help="how Keras networks run (as for ser predict)")


def _serve(args: argparse.Namespace) -> int:
    """`ser serve`: 0 after Ctrl-C, 2 on a usage error (bad MODEL_DIR or option)."""
    if not 0.0 <= args.threshold <= 1.0:
        print(f"ser serve: error: --threshold must be within 0..1, got {args.threshold:g}",
              file=sys.stderr)
        return 2
    if args.max_upload_mb < 0:
        print(f"ser serve: error: --max-upload-mb must be >= 0, got {args.max_upload_mb:g}",
              file=sys.stderr)
        return 2
    try:
        serve(args.model_dir, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
              threshold=args.threshold, jobs=args.jobs, runtime=args.runtime)
    except UsageError as exc:
        print(f"ser serve: error: {exc}", file=sys.stderr)
        return 2
    return 0


_PREDICT_DESCRIPTION = """\
Classify audio or video files (any container the workflow's audio stage accepts; folders are
searched recursively) with a model trained by the workflow. MODEL_DIR is a results/models/DATASET
folder (the leaderboard's best model), a results/models/DATASET/MODEL folder (its final bundle,
trained on all clips; --folds averages its fold bundles, --fold K uses one) or one bundle.
A warning says when the model was trained on the synthetic demo corpus, and when a file lies far
outside the data it was trained on (duration, level or features beyond the training clips')."""

_PREDICT_EPILOG = (
    "examples, after the workflow on real speech (config/ravdess-dev.yaml, README):\n"
    "  ser predict results-ravdess/results/models/ravdess my_clip.wav\n"
    "after `make demo` (the synthetic demo corpus: checks the install, not for real speech):\n"
    "  ser predict results/models/demo/conf_dnn results/demo/demo/Actor_01\n"
    "  ser predict results/models/demo/svm results/demo/demo/Actor_02/01-01-05-01-02-01-02.mp4"
    " --format json --threshold 0.5\n"
    "  ser predict results/models/demo/cnn results/demo/demo --fold 0 --format csv\n"
    "  ser predict results/models/demo/late_fusion interview.wav --segment --plot timelines/\n"
    "speaker-adaptive model (normalize: speaker, fallback: strict), one folder per speaker:\n"
    "  ser predict results-accuracy/results/models/ravdess/MODEL calls/ --adapt-by folder\n"
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
