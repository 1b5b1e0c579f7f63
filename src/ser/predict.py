"""The :class:`Predictor`: classify new audio/video files with bundles trained by the workflow
(the engine of `ser predict`, whose command line is in :mod:`ser.cli`).

Why it is built this way:

- Same numbers as evaluation: files are decoded and featurised by :mod:`ser.featurise`, exactly
  as the workflow did, so a clip from a fold's test part gets exactly the probabilities recorded
  at evaluation.
- Fast. Bundles are loaded once per :class:`Predictor`; decoding and feature extraction run in a
  process pool (started before TensorFlow is imported, so the workers never load it) while the
  main process loads the models; each bundle then predicts all files in one batch.
- Honest output. Every input file is listed (:mod:`ser.predict_output`): classified, or failed
  with the reason.
- Long recordings: with ``segment=SegmentParams(...)`` each file is cut into speech segments
  (:mod:`ser.segment`) that are classified one by one through the same checks and extractors.
- One model for many threads (``ser serve``): the pool, the bundles and the model step are
  guarded by a lock, so concurrent requests share one loaded Predictor.

MODEL_DIR is ``results/models/DATASET`` (the leaderboard's best model), ``.../DATASET/MODEL``
(its ``final`` bundle, trained on all clips; with ``folds=True`` its fold bundles averaged: mean
probability; confidence = mean of the models' confidence branches when every bundle has one,
else the maximum averaged probability) or one bundle folder (``.../fold2``, a cross-corpus
``bundle``).

It also says what a label is worth: a warning when the model was trained on the synthetic demo
corpus, and per file the reasons it lies far outside the training data (duration, level or
feature distance beyond the training clips', recorded in each bundle's profile).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ser.adapt import Grouping, display_names
from ser.bundle import FINAL, MODEL_DIR_HELP, find_bundles, load_bundle, read_bundle_doc
from ser.errors import UsageError
from ser.featurise import (
    Featurised,
    Spec,
    extractors_ready,
    feature_spec,
    featurise,
    mp_context,
    set_threads,
    warm,
)
from ser.models import RUNTIMES, combine_runtimes, runtime_of
from ser.predict_output import FileResult, PredictResult, SegmentResult
from ser.predict_rows import RowPredictor, outside_note
from ser.quality import outside_training_dict, shared_conditions
from ser.segment import SegmentedFile, SegmentParams, featurise_segments, summarise_file

SYNTHETIC_WARNING = (
    "this model was trained on the SYNTHETIC demo corpus (generated tones and noise, not "
    "speech): it shows that the workflow runs, and its labels mean nothing for real "
    "recordings; train on recorded emotional speech (README: your own corpora)")

DEFAULT_AUDIO = {"sample_rate": 16000, "min_duration": 0.3, "silence_dbfs": -70.0,
                 "trim_db": None}


class Predictor(RowPredictor):
    """Bundles loaded once, a warm worker pool, and batch prediction of files.

    ``jobs`` worker processes decode and featurise (0 = in this process). The pool is started
    before any model is loaded so the workers never import TensorFlow.
    """

    def __init__(self, model_dir: str | os.PathLike, *, fold: int | None = None,
                 jobs: int | None = None, runtime: str = "auto", folds: bool = False,
                 adapt: Grouping | None = None) -> None:
        if adapt is not None:
            adapt.check()
        self.adapt = adapt
        if runtime not in RUNTIMES:
            raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.runtime = runtime
        self.runtime_used = "native"
        self.model_dir = Path(model_dir)
        self.fold = fold
        self.jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
        if self.jobs < 0:
            raise UsageError(f"--jobs must be >= 0, got {self.jobs}")
        self.bundle_dirs = find_bundles(self.model_dir, fold, folds=folds)
        self.docs = [read_bundle_doc(b) for b in self.bundle_dirs]
        self.corpus, self.bundle_kind = self._trained_on()
        self.specs_per_bundle = [feature_spec(doc["feature_set"]) for doc in self.docs]
        self.specs: list[Spec] = list(dict.fromkeys(self.specs_per_bundle))
        self.audio = self._audio_params()
        self.labels: list[str] = []
        for doc in self.docs:
            self.labels += [str(x) for x in doc["labels"] if str(x) not in self.labels]
        modes = {str(doc.get("normalize", "global")) for doc in self.docs}
        self.normalize = modes.pop() if len(modes) == 1 else "mixed"
        self.notes: list[str] = []
        if any([str(x) for x in doc["labels"]] != self.labels for doc in self.docs):
            self.notes.append("the bundles were trained on different label sets; a label a "
                              "bundle does not know gets probability 0 from it before averaging")
        # what every bundle was trained for (None: a bundle from before conditions were recorded)
        self.training_conditions = shared_conditions(
            [(doc.get("train_info") or {}).get("training_conditions") for doc in self.docs])
        if self.corpus.get("synthetic"):
            self.notes.insert(0, SYNTHETIC_WARNING)
        self._bundles: list[Any] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.RLock()
        self.load_seconds = 0.0
        self.has_confidence = False

    def _trained_on(self) -> tuple[dict[str, Any], str]:
        """What the bundles were trained on (corpus record; synthetic if any bundle's is) and
        which kind of bundle runs: final, folds, fold or bundle."""
        infos = [doc.get("train_info") or {} for doc in self.docs]
        corpora = [info.get("corpus") or {} for info in infos]
        datasets = sorted({str(c.get("dataset") or info.get("dataset") or "")
                           for c, info in zip(corpora, infos, strict=True)} - {""})
        corpus = {"dataset": "+".join(datasets) or None,
                  "synthetic": any(bool(c.get("synthetic")) for c in corpora)}
        if len(self.bundle_dirs) > 1:
            kind = "folds"
        elif self.bundle_dirs[0].name == FINAL:
            kind = "final"
        elif infos[0].get("fold") is not None:
            kind = "fold"
        else:
            kind = "bundle"
        return corpus, kind

    def _audio_params(self) -> dict[str, Any]:
        params = []
        for doc in self.docs:
            a = dict(DEFAULT_AUDIO)
            a["sample_rate"] = doc.get("feature_set", {}).get("sample_rate") or a["sample_rate"]
            a.update({k: v for k, v in (doc.get("audio") or {}).items()
                      if k in DEFAULT_AUDIO and v is not None})
            params.append(a)
        for key in ("sample_rate", "trim_db"):
            values = {a[key] for a in params}
            if len(values) > 1:
                raise UsageError(f"bundles in {self.model_dir} disagree on audio.{key} "
                                 f"({sorted(values, key=str)}); predict with one of them (--fold)")
        first: dict[str, Any] = params[0]
        return {"sample_rate": int(first["sample_rate"]),
                "min_duration": float(first["min_duration"]),
                "silence_dbfs": float(first["silence_dbfs"]), "trim_db": first["trim_db"]}

    @property
    def feature_set_names(self) -> list[str]:
        """Feature set names of the bundles (fused sets as a+b)."""
        return ["+".join(n for n, _ in spec) for spec in self.specs]

    def _ensure_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            return self._ensure_pool_locked()

    def _ensure_pool_locked(self) -> ProcessPoolExecutor | None:
        if self._pool is None:
            n = self.jobs
            if n == 0 and "tensorflow" in sys.modules and not extractors_ready(self.specs):
                n = 1  # extractors built after TensorFlow may crash (openSMILE): use a worker
            cpus = os.cpu_count() or 1
            if n == 0:
                set_threads(cpus)  # extraction in this process: all CPUs for an encoder
                return None
            self._pool = ProcessPoolExecutor(n, mp_context=mp_context(), initializer=set_threads,
                                             initargs=(max(1, cpus // n),))
            for _ in range(n):
                self._pool.submit(warm, self.specs, self.audio["sample_rate"])
        return self._pool

    def load(self) -> float:
        """Start the workers, then load every bundle (TensorFlow for Keras models); seconds.

        Without workers the extractors are built here first: openSMILE must be loaded before
        TensorFlow in one process.
        """
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> float:
        pool = self._ensure_pool_locked()
        if self._bundles is None:
            if pool is None and "tensorflow" not in sys.modules:
                warm(self.specs, self.audio["sample_rate"])
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            t0 = time.perf_counter()
            bundles = []
            for b in self.bundle_dirs:
                try:
                    bundles.append(load_bundle(b, self.runtime))
                except Exception as exc:  # noqa: BLE001 - a broken bundle is a bad MODEL_DIR
                    raise UsageError(f"cannot load bundle {b}: {type(exc).__name__}: {exc}. "
                                     f"{MODEL_DIR_HELP}") from None
            self._bundles = bundles
            self.load_seconds = time.perf_counter() - t0
            self.runtime_used = combine_runtimes(runtime_of(b.model) for b in bundles)
            self.has_confidence = all(
                b.model.confidence(np.zeros((0, *b.model.input_shape), np.float32)) is not None
                for b in bundles)
        return self.load_seconds

    def close(self) -> None:
        """Stop the worker processes."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, paths: list[str], task: Callable[..., Any] = featurise,
                *extra: Any) -> list[Future] | None:
        pool = self._ensure_pool()
        if pool is None:
            return None
        return [pool.submit(task, p, self.audio, self.specs, *extra) for p in paths]

    def _collect(self, paths: list[str], futures: list[Future] | None,
                 task: Callable[..., Any] = featurise, *extra: Any) -> list[Any]:
        """Results of ``task`` per path, in order; a crashed worker fails only its files."""
        if futures is None:
            return [task(p, self.audio, self.specs, *extra) for p in paths]
        failed = SegmentedFile if task is featurise_segments else Featurised
        out = []
        broken = False
        for p, fut in zip(paths, futures, strict=True):
            try:
                out.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by a crashing decoder
                broken = True
                out.append(failed(p, f"worker failed: {type(exc).__name__}: {exc}"))
        if broken:  # a dead worker breaks the pool; start a fresh one next time
            with self._lock:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
        return out

    def _result(self, files: list[FileResult], threshold: float | None, notes: list[str],
                timing: dict[str, float], segmentation: dict[str, Any] | None = None
                ) -> PredictResult:
        return PredictResult(
            model_dir=str(self.model_dir), bundles=[str(b) for b in self.bundle_dirs],
            fold=self.fold, labels=list(self.labels), feature_sets=self.feature_set_names,
            normalize=self.normalize,
            confidence="model" if self.has_confidence else "max_prob",
            runtime=self.runtime_used, threshold=threshold, files=files, warnings=notes,
            timing=timing, segmentation=segmentation, corpus=dict(self.corpus),
            bundle_kind=self.bundle_kind,
        )

    def predict_files(self, paths: Sequence[str | os.PathLike], threshold: float | None = None,
                      segment: SegmentParams | None = None) -> PredictResult:
        """Classify files: featurise in parallel, then one batch per bundle; average bundles.

        With ``segment``, every speech segment of every file is classified (see
        :meth:`predict_segments`; segments are standardised as ONE speaker per call under
        speaker normalisation). ``normalize: speaker`` bundles: with ``adapt``
        (``--adapt-by``) the files are grouped by speaker and each group of at least
        ``adapt.min_clips`` readable clips is standardised with its own statistics (as
        evaluation does for a test speaker); smaller groups use the bundle's strict twin
        (:mod:`ser.adapt`). Without ``adapt``, a bundle with a strict twin predicts strictly,
        one without standardises all files together as ONE speaker (a warning says so).
        """
        if segment is not None:
            return self.predict_segments(paths, segment, threshold)
        t0 = time.perf_counter()
        file_paths = [os.fspath(p) for p in paths]
        futures = self._submit(file_paths)  # workers start on the files while the models load
        self.load()
        t1 = time.perf_counter()
        feats = self._collect(file_paths, futures)
        t2 = time.perf_counter()
        ok = [f for f in feats if f.reason is None]
        assignments = self._assignments(ok)
        probs, conf, notes, outside, row_errors = self._predict_all(ok, assignments)
        t3 = time.perf_counter()
        files: list[FileResult] = []
        row = {f.path: i for i, f in enumerate(ok)}
        names = display_names([a.group for a in assignments or []])
        for f in feats:
            if f.reason is not None:
                files.append(FileResult(f.path, "error", reason=f.reason, duration=f.duration))
                continue
            i = row[f.path]
            adaptation = None
            if assignments is not None:
                a = assignments[i]
                adaptation = {**a.to_json(), "group": names.get(a.group) if a.group else None}
            if row_errors[i] is not None:
                files.append(FileResult(f.path, "error", reason=row_errors[i],
                                        duration=f.duration, adaptation=adaptation))
                continue
            files.append(FileResult(
                f.path, "ok", duration=f.duration, quality=f.quality, adaptation=adaptation,
                outside_training=self._file_outside(f.quality, outside.get(f.path, [])),
                **self._classified(probs[i], conf[i], threshold)))
        timing = {"load_s": self.load_seconds, "wait_features_s": t2 - t1,
                  "predict_s": t3 - t2, "total_s": time.perf_counter() - t0}
        result = self._result(files, threshold, notes + outside_note(files), timing)
        result.adapt = self._adapt_summary(assignments, names)
        return result

    def _file_outside(self, quality: dict[str, Any] | None, profile: list[str]) -> list[str]:
        """A classified file's outside-training reasons: its recording conditions against
        those the model was trained for, then the bundles' profile checks (duration, level,
        feature distance)."""
        conditions = ([] if quality is None
                      else outside_training_dict(quality, self.training_conditions))
        return conditions + profile

    def predict_segments(self, paths: Sequence[str | os.PathLike], params: SegmentParams,
                         threshold: float | None = None) -> PredictResult:
        """Classify every speech segment of every file (``ser predict --segment``).

        Workers decode, segment and featurise one file each (:func:`featurise_segments`); all
        segments of all files then go through each bundle in one batch. A file's label,
        probabilities and confidence are its segments' duration-weighted means
        (:func:`ser.segment.summarise_file`); ``label_share`` is the share of speech time per
        label. A file where no speech is found, or no segment passes the checks, fails with
        the reason.
        """
        params.check()
        t0 = time.perf_counter()
        file_paths = [os.fspath(p) for p in paths]
        futures = self._submit(file_paths, featurise_segments, params)
        self.load()
        t1 = time.perf_counter()
        done: list[SegmentedFile] = self._collect(file_paths, futures, featurise_segments,
                                                  params)
        t2 = time.perf_counter()
        ok = [Featurised(f.path, None, s.end - s.start, s.features)
              for f in done for s in f.segments if s.reason is None]
        # with --adapt-by, a segment belongs to its file's speaker group (segments count as
        # the group's clips); segments of a file: their outside-training reasons merged
        assignments = self._assignments(ok)
        probs, conf, notes, outside, row_errors = self._predict_all(ok, assignments)
        t3 = time.perf_counter()
        files: list[FileResult] = []
        row = 0
        for f in done:
            segs: list[SegmentResult] = []
            for s in f.segments:
                if s.reason is not None:
                    segs.append(SegmentResult(s.start, s.end, "error", reason=s.reason,
                                              quality=s.quality))
                    continue
                if row_errors[row] is not None:
                    segs.append(SegmentResult(s.start, s.end, "error", reason=row_errors[row],
                                              quality=s.quality))
                else:
                    segs.append(SegmentResult(s.start, s.end, "ok", quality=s.quality,
                                              **self._classified(probs[row], conf[row],
                                                                 threshold)))
                row += 1
            if f.reason is not None:
                files.append(FileResult(f.path, "error", reason=f.reason, duration=f.duration,
                                        segments=segs))
            elif not any(s.status == "ok" for s in segs):
                reasons = "; ".join(sorted({s.reason or "" for s in segs}))
                files.append(FileResult(
                    f.path, "error", duration=f.duration, segments=segs,
                    reason=f"no segment could be classified ({len(segs)} found: {reasons})"))
            else:
                files.append(FileResult(f.path, "ok", duration=f.duration, segments=segs,
                                        quality=f.quality,
                                        outside_training=self._file_outside(
                                            f.quality, outside.get(f.path, [])),
                                        **summarise_file(segs, self.labels, threshold,
                                                         model_confidence=self.has_confidence)))
        timing = {"load_s": self.load_seconds, "wait_features_s": t2 - t1,
                  "predict_s": t3 - t2, "total_s": time.perf_counter() - t0}
        result = self._result(files, threshold, notes + outside_note(files), timing,
                              params.to_json())
        result.adapt = self._adapt_summary(
            assignments, display_names([a.group for a in assignments or []]))
        return result
