"""The model step of `ser predict`: loaded bundles classify featurised rows.

Why a room of its own: this is where the numbers are decided, apart from decoding, worker
pools and output. Each bundle predicts every row in one batch; probabilities are averaged over
bundles on one label order (a label a bundle does not know gets 0 from it); confidence is the
mean of the bundles' confidence branches when all have one, else the top averaged probability.
Speaker-normalised bundles answer per speaker group with ``--adapt-by`` (:mod:`ser.adapt`),
through their strict twin without it, and every such choice becomes a note. Per file, the
reasons it lies outside the training data (bundle profiles, :func:`ser.trust.outside_training`).
:class:`RowPredictor` is mixed into :class:`ser.predict.Predictor`, which owns the bundles.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ser.adapt import Assignment, Grouping, assign, predict_grouped, speaker_of
from ser.featurise import Featurised, Spec
from ser.predict_output import FileResult
from ser.trust import outside_training


class RowPredictor:
    """Prediction of featurised rows by the loaded bundles (see the module docstring)."""

    _bundles: list[Any] | None
    _lock: threading.RLock
    specs_per_bundle: list[Spec]
    labels: list[str]
    adapt: Grouping | None
    notes: list[str]

    def _outside_training(self, ok: list[Featurised]) -> dict[str, list[str]]:
        """Per file, why it lies far outside the data the bundles were trained on. With several
        bundles (folds averaged) a check fails only when it fails for every bundle that has a
        profile: together they were trained on all clips. Segments of one file are merged."""
        assert self._bundles is not None
        profiled = [(b, spec) for b, spec in zip(self._bundles, self.specs_per_bundle,
                                                 strict=True) if b.profile]
        out: dict[str, list[str]] = {}
        for f in ok:
            reasons = out.setdefault(f.path, [])
            if not profiled:
                continue
            per_bundle = [outside_training(b.profile, b.profile_arrays, f.features.get(spec),
                                           f.duration, f.level) for b, spec in profiled]
            kinds = [{r.split(" ", 1)[0] for r in rs} for rs in per_bundle]
            common = set.intersection(*kinds)
            for r in per_bundle[0]:
                kind = r.split(" ", 1)[0]
                if kind in common and not any(x.startswith(kind) for x in reasons):
                    reasons.append(r)
        return out

    def _adaptive_bundles(self) -> bool:
        assert self._bundles is not None
        return any(b.normalize == "speaker" for b in self._bundles)

    def _assignments(self, ok: list[Featurised]) -> list[Assignment] | None:
        """Speaker group and mode of each readable file (None without --adapt-by or when no
        bundle is speaker-normalised: then there is nothing to adapt)."""
        if self.adapt is None or not self._adaptive_bundles():
            return None
        groups = speaker_of([f.path for f in ok], self.adapt)
        return assign(groups, self.adapt.min_clips)

    def _adapt_summary(self, assignments: list[Assignment] | None,
                       names: dict[str, str]) -> dict[str, Any] | None:
        if assignments is None:
            return None
        groups: dict[str, dict[str, Any]] = {}
        for a in assignments:
            if a.group is not None:
                groups[names[a.group]] = {"n_clips": a.n_group, "mode": a.mode}
        assert self.adapt is not None
        return {**self.adapt.to_json(), "groups": dict(sorted(groups.items()))}

    def _predict_all(self, ok: list[Featurised], assignments: list[Assignment] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, list[str]],
                                list[str | None]]:
        """Probabilities and confidences of the featurised items (empty when there are none),
        the notes for the result, each path's reasons for being outside the training data and
        each row's error (see :meth:`_predict_rows`)."""
        if not ok:
            n = len(self.labels)
            return np.zeros((0, n)), np.zeros(0), list(self.notes), {}, []
        probs, conf, more, errors = self._predict_rows(ok, assignments)
        return probs, conf, [*self.notes, *more], self._outside_training(ok), errors

    def _classified(self, p: np.ndarray, c: float, threshold: float | None) -> dict[str, Any]:
        """Label, confidence, uncertain flag and probabilities of one classified item."""
        c = float(c)
        return {"label": self.labels[int(np.argmax(p))], "confidence": c,
                "uncertain": bool(threshold is not None and threshold > 0 and c < threshold),
                "probabilities": {lab: float(v) for lab, v in zip(self.labels, p, strict=True)}}

    def _predict_rows(self, ok: list[Featurised], assignments: list[Assignment] | None = None,
                      ) -> tuple[np.ndarray, np.ndarray, list[str], list[str | None]]:
        """Average the bundles' probabilities over ``self.labels``; confidence per the docs.

        Returns probabilities, confidence, notes and a per-row error (a row that needs the
        strict model of a bundle that has none). Holds the lock: a LiteRT interpreter must not
        run in two threads at once."""
        with self._lock:
            return self._predict_rows_locked(ok, assignments)

    def _predict_rows_locked(self, ok: list[Featurised], assignments: list[Assignment] | None
                             ) -> tuple[np.ndarray, np.ndarray, list[str], list[str | None]]:
        assert self._bundles is not None
        notes: list[str] = []
        errors: list[str | None] = [None] * len(ok)
        col = {lab: j for j, lab in enumerate(self.labels)}
        all_probs, all_conf = [], []
        strict_default = one_speaker = False
        for bundle, spec in zip(self._bundles, self.specs_per_bundle, strict=True):
            X = np.stack([f.features[spec] for f in ok]).astype(np.float32)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if bundle.normalize == "speaker" and assignments is not None:
                    p, c, errs = predict_grouped(bundle, X, assignments)
                    errors = [e if e is not None else o for e, o in zip(errs, errors,
                                                                        strict=True)]
                elif bundle.normalize == "speaker" and bundle.strict is not None:
                    p, c = bundle.strict.predict(X, None)
                    strict_default = True
                else:
                    p, c = bundle.predict(X, None)
                    one_speaker |= bundle.normalize == "speaker"
            for w in caught:
                msg = str(w.message)
                if "has a single clip" not in msg and msg not in notes:
                    notes.append(msg)
            aligned = np.zeros((len(ok), len(self.labels)), dtype=np.float64)
            aligned[:, [col[str(lab)] for lab in bundle.labels]] = p
            all_probs.append(aligned)
            all_conf.append(c)
        probs = np.mean(np.stack(all_probs), axis=0)
        confs = [c for c in all_conf if c is not None]
        if len(confs) == len(all_conf):
            conf = np.mean(np.stack(confs), axis=0)
        else:
            conf = probs.max(axis=1)
        if self.adapt is not None and assignments is None and not self._adaptive_bundles():
            notes.append("--adapt-by has no effect: this model does not use per-speaker "
                         "normalisation (normalize: global), every file is classified strictly")
        if strict_default:
            notes.append("this is a speaker-adaptive model: without --adapt-by its strict twin "
                         "classified every file (no information from other files); give "
                         "--adapt-by folder|regex|file-list to standardise each speaker's "
                         "clips with their own statistics")
        if assignments is not None:
            n_strict = sum(a.mode == "strict" for a in assignments)
            if n_strict:
                notes.append(f"{n_strict} file(s) fell back to the strict model (speaker group "
                             f"smaller than {self.adapt.min_clips} clips, or no group); "  # type: ignore[union-attr]
                             "see adaptation per file")
        if one_speaker:
            notes.append(
                f"this model uses per-speaker normalisation (normalize: speaker): the {len(ok)} "
                "classified file(s) are treated as ONE speaker and standardised with their own "
                "statistics; classify one speaker's files together (or give --adapt-by), and "
                "expect other results when the set of files changes")
            if len(ok) == 1:
                notes.append("a single file standardises to all zeros under speaker "
                             "normalisation: its prediction does not depend on the audio")
        return probs, conf, notes, errors


def outside_note(files: Sequence[FileResult]) -> list[str]:
    """One warning line counting the classified files outside the training data (their
    reasons are in each file's ``outside_training``)."""
    ok = [f for f in files if f.status == "ok"]
    far = sum(bool(f.outside_training) for f in ok)
    if not far:
        return []
    return [f"{far} of {len(ok)} classified file(s) lie outside the data the model was trained "
            "on (outside_training): their labels are guesses beyond what it has seen"]
