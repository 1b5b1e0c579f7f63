"""What a reader needs before trusting a score: chance level, an interval, a leakage audit,
per-speaker results, whether confidence means anything, and where the numbers came from.

Why a module of its own: these figures sit beside every score (metrics.json, leaderboard,
report, `ser predict`), so they are computed once here and only displayed elsewhere. Metric
arithmetic is scikit-learn's where it has one; the bootstrap is a few lines of numpy because
resampling speakers (clusters) rather than clips is not something scikit-learn offers.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ser.bundle import load_bundle, mean_scale
from ser.conditions import level_text
from ser.features.tables import read_table

INTERVAL_LEVEL = 0.95
N_BOOT = 2000
BOOT_SEED = 0
# How a confidence AUROC (correct vs wrong, or clean vs noisy) is put into words.
SEPARATES = 0.75
WEAK = 0.6

Values = Sequence[Any] | np.ndarray
"""One value per clip (labels, speakers, ...): a list or a numpy array."""


# --------------------------------------------------------------------------- chance, intervals


def chance_level(n_classes: int) -> float:
    """UAR of a classifier that ignores its input (always one class, or random): 1 / classes."""
    return 1.0 / max(1, int(n_classes))


def _confusions(y_true: np.ndarray, y_pred: np.ndarray, units: np.ndarray,
                labels: Sequence[str]) -> np.ndarray:
    """(units, K, K) confusion counts per resampling unit over ``labels`` (true x predicted)."""
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    _, unit_idx = np.unique(units, return_inverse=True)
    t = np.array([index[str(v)] for v in y_true])
    p = np.array([index.get(str(v), -1) for v in y_pred])
    out = np.zeros((unit_idx.max() + 1 if len(unit_idx) else 0, k, k + 1))
    np.add.at(out, (unit_idx, t, np.where(p < 0, k, p)), 1.0)
    return out  # the extra last column counts predictions outside ``labels``


def _uar_of(conf: np.ndarray) -> np.ndarray:
    """UAR (mean recall over the classes present) of confusion matrices (..., K, K+1)."""
    k = conf.shape[-2]
    rows = conf.sum(axis=-1)
    diag = conf[..., np.arange(k), np.arange(k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(rows > 0, diag / np.where(rows > 0, rows, 1), np.nan)
    return np.nanmean(recall, axis=-1)


def uar_interval(y_true: Values, y_pred: Values,
                 speakers: Values | None = None, *, level: float = INTERVAL_LEVEL,
                 n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> dict[str, Any]:
    """Percentile bootstrap interval of the pooled UAR.

    The resampling unit is the test speaker when speakers are known (at least two): clips of
    one voice are not independent, and a new user brings a new voice, so resampling speakers
    gives the honest spread; otherwise the unit is the test clip. Returns ``{low, high, level,
    method, unit, n_units, n_boot}``.
    """
    y_true = np.asarray([str(v) for v in y_true], dtype=object)
    y_pred = np.asarray([str(v) for v in y_pred], dtype=object)
    labels = sorted(set(y_true))
    out: dict[str, Any] = {"level": level, "n_boot": int(n_boot)}
    if len(y_true) == 0:
        return {**out, "low": None, "high": None, "method": "none", "unit": None, "n_units": 0}
    rng = np.random.default_rng(seed)
    spk = None if speakers is None else np.asarray([str(s) for s in speakers], dtype=object)
    if spk is not None and len(set(spk)) >= 2:
        conf = _confusions(y_true, y_pred, spk, labels)
        n_units = conf.shape[0]
        draws = rng.integers(0, n_units, size=(n_boot, n_units))
        weights = np.stack([np.bincount(d, minlength=n_units) for d in draws]).astype(float)
        boot = np.einsum("bu,ukl->bkl", weights, conf)
        unit = "speaker"
    else:
        cells = _confusions(y_true, y_pred, np.zeros(len(y_true)), labels)[0]
        flat = cells.ravel()
        n_units = int(flat.sum())
        boot = rng.multinomial(n_units, flat / flat.sum(), size=n_boot).reshape(
            (n_boot, *cells.shape)).astype(float)  # resampling clips = resampling table cells
        unit = "clip"
    uars = _uar_of(boot)
    alpha = (1.0 - level) / 2.0
    low, high = np.nanquantile(uars, [alpha, 1.0 - alpha])
    method = (f"bootstrap over test {unit}s ({n_boot} resamples of {n_units} {unit}s, "
              "UAR of the pooled clips, percentile interval)")
    return {**out, "low": float(low), "high": float(high), "method": method, "unit": unit,
            "n_units": int(n_units)}


def includes_chance(interval: Mapping[str, Any], chance: float) -> bool | None:
    """Whether a UAR interval reaches down to chance (None when there is no interval)."""
    low = interval.get("low")
    return None if low is None else bool(low <= chance)


# --------------------------------------------------------------------------- per speaker


def per_speaker_uar(y_true: Values, y_pred: Values,
                    speakers: Values) -> dict[str, dict[str, float | int]]:
    """UAR, accuracy and clip count per test speaker (clean clips), speakers sorted by name.

    A model that works for some voices only shows here while its pooled UAR looks fine."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    frame = pd.DataFrame({"t": [str(v) for v in y_true], "p": [str(v) for v in y_pred],
                          "s": [str(v) for v in speakers]})
    out: dict[str, dict[str, float | int]] = {}
    for spk, rows in frame.groupby("s", sort=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # y_pred has classes not in y_true
            uar = balanced_accuracy_score(rows["t"], rows["p"])
        out[str(spk)] = {"uar": float(uar), "accuracy": float(accuracy_score(rows["t"], rows["p"])),
                         "n": int(len(rows))}
    return out


def worst_speaker(per_speaker: Mapping[str, Mapping[str, Any]]) -> tuple[str, float] | None:
    """(speaker, UAR) of the speaker the model serves worst (ties: first by name)."""
    if not per_speaker:
        return None
    name = min(sorted(per_speaker), key=lambda s: per_speaker[s]["uar"])
    return name, float(per_speaker[name]["uar"])


# --------------------------------------------------------------------------- leakage audit


def leakage_audit(pred: pd.DataFrame, splits: pd.DataFrame) -> dict[str, Any]:
    """How much of each test fold was also seen in training, from the split table.

    For fold k the training part is every split clip outside fold k (as in ``ser.train``), with
    its noisy copies. Counts: test speakers that also speak in the training part (0 for
    speaker-independent protocols), and test rows (clean and noisy) whose source clip is in the
    training part (0 unless a clip sits on both sides). Summed over folds, and per fold.
    """
    src_fold = dict(zip(splits["source_id"].astype(str), splits["fold"].astype(int), strict=True))
    src_spk = dict(zip(splits["source_id"].astype(str), splits["speaker"].astype(str),
                       strict=True))
    pred_src = (pred["source_id"] if "source_id" in pred.columns else pred["id"]).astype(str)
    folds = sorted({int(f) for f in pred["fold"]}) if "fold" in pred.columns else [0]
    per_fold = []
    for k in folds:
        train_src = {s for s, f in src_fold.items() if f != k}
        train_spk = {src_spk[s] for s in train_src if src_spk[s] not in ("", "None", "nan")}
        rows = pred_src[(pred["fold"].astype(int) == k).to_numpy()] if "fold" in pred.columns \
            else pred_src
        test_spk = {src_spk[s] for s in rows.unique() if s in src_spk}
        per_fold.append({
            "fold": k,
            "test_speakers": len(test_spk),
            "test_speakers_in_training": len(test_spk & train_spk),
            "test_clips": int(len(rows)),
            "test_clips_source_in_training": int(rows.isin(train_src).sum()),
        })
    total = {key: int(sum(f[key] for f in per_fold)) for key in
             ("test_speakers", "test_speakers_in_training", "test_clips",
              "test_clips_source_in_training")}
    return {**total, "per_fold": per_fold, "source": "split table (training = clips outside "
            "the test fold, with their noisy copies)"}


def speakers_of(pred: pd.DataFrame, splits: pd.DataFrame) -> np.ndarray:
    """The speaker of every prediction row, looked up through its source clip."""
    spk = dict(zip(splits["source_id"].astype(str), splits["speaker"].astype(str), strict=True))
    src = (pred["source_id"] if "source_id" in pred.columns else pred["id"]).astype(str)
    return np.asarray([spk.get(s, "unknown") for s in src], dtype=object)


# --------------------------------------------------------------------------- confidence


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUROC of a score ranking positives above negatives (NaN when a side is empty)."""
    from sklearn.metrics import roc_auc_score

    pos = np.asarray(positive, dtype=float)
    neg = np.asarray(negative, dtype=float)
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    return float(roc_auc_score(y, np.concatenate([pos, neg])))


def separation_words(value: float | None) -> str:
    """Plain words for an AUROC of a confidence score."""
    if value is None or not np.isfinite(value):
        return "cannot be measured here"
    if value >= SEPARATES:
        return "separates them"
    if value >= WEAK:
        return "separates them only weakly"
    if value < 1 - WEAK:
        return "does NOT separate them (it ranks them the wrong way round)"
    return "does NOT separate them"


def confidence_check(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Whether confidence ranks right answers above wrong ones (clean test clips)."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    value = auroc(conf[ok], conf[~ok])
    return {
        "auroc_correct_vs_wrong": None if not np.isfinite(value) else value,
        "n_correct": int(ok.sum()), "n_wrong": int((~ok).sum()),
        "mean_confidence_correct": float(np.nanmean(conf[ok])) if ok.any() else None,
        "mean_confidence_wrong": float(np.nanmean(conf[~ok])) if (~ok).any() else None,
        "verdict": separation_words(value if np.isfinite(value) else None),
    }


# --------------------------------------------------------------------------- noise kinds


def noise_kind_scores(noisy: pd.DataFrame, score: Any) -> dict[str, dict[str, float]]:
    """Accuracy per noise kind and SNR of the noisy rows: {kind: {snr: accuracy}}.

    ``score(rows)`` returns the accuracy of a set of rows (the caller's metric code), so this
    only groups. Kept apart from other condition breakdowns (reverb, codec) on purpose."""
    if noisy.empty or "noise" not in noisy.columns:
        return {}
    out: dict[str, dict[str, float]] = {}
    snr = pd.to_numeric(noisy["snr_db"], errors="coerce")
    kinds = noisy["noise"].astype(str).to_numpy()
    for kind in sorted(set(kinds)):
        for value in sorted(snr[kinds == kind].unique(), reverse=True):
            rows = noisy[(kinds == kind) & (snr == value).to_numpy()]
            out.setdefault(kind, {})[level_text(value)] = float(score(rows))
    return out


#: a score within this factor of chance is "near chance" (one rule for every sentence that says so)
NEAR_CHANCE_FACTOR = 1.5


def near_chance(score: float, chance: float) -> bool:
    """Whether a score is little or no better than a guess: within 1.5 x chance."""
    return score <= chance * NEAR_CHANCE_FACTOR


def noise_sentence(by_snr: Mapping[str, float], by_noise: Mapping[str, Mapping[str, float]],
                   chance: float) -> str:
    """One sentence on which noise kind hurts most, and what such a drop means for a user."""
    clean = by_snr.get("clean")
    cells = [(float(acc), kind, snr) for kind, table in by_noise.items()
             for snr, acc in table.items() if acc is not None]
    if clean is None or not cells:
        return ""
    worst, kind, snr = min(cells)
    text = (f"Per noise kind, accuracy falls furthest with {kind} noise at {snr} dB SNR: "
            f"{worst:.2f} against {clean:.2f} on clean clips (chance {chance:.3f}).")
    near = [(float(s), k) for acc, k, s in cells if near_chance(acc, chance)]
    if near:
        top = max(s for s, _ in near)
        kinds = ", ".join(sorted({k for s, k in near if s == top}))
        lowest = top == min(float(s) for _, _, s in cells)
        text += (f" {'At' if lowest else 'Already at'} {top:g} dB SNR ({kinds}) it is near "
                 f"chance (within {NEAR_CHANCE_FACTOR:g} x chance): recordings with that much "
                 "background noise get labels little or no better than a guess.")
    elif clean - worst > 0.1:
        text += (" Expect noticeably worse labels than the clean figure on recordings with such "
                 "noise.")
    else:
        text += " The model holds up under the noise tested."
    return text


# --------------------------------------------------------------------------- cost


def folder_bytes(path: Path | str) -> int:
    """Size on disk of the files under a folder (a bundle)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- provenance


def _git(args: list[str], cwd: Path) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        res = subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def package_versions() -> dict[str, str]:
    """Python and the installed versions of this project's declared dependencies."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    try:
        requires = metadata.requires("ser-workflow") or []
    except metadata.PackageNotFoundError:
        requires = []
    import re

    for req in requires:
        if "extra ==" in req:
            continue
        name = re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0]
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


COMMAND_ENV = "SER_COMMAND"
"""The Snakefile puts the command line of the run here, for the report's provenance block."""


def provenance(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Config as run, package versions, git commit of the code, date and command line."""
    src = Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], src)
    dirty = _git(["status", "--porcelain", "--untracked-files=no"], src)
    return {
        "date": _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds"),
        "command": os.environ.get(COMMAND_ENV) or "unknown (not run through the Snakefile)",
        "git_commit": commit or "unknown (not a git checkout)",
        "git_dirty": None if dirty is None else bool(dirty),
        "versions": package_versions(),
        "config": dict(config) if config is not None else None,
    }


# --------------------------------------------------------------------------- bundle checks


def _feature_seconds(meta: Mapping[str, Any]) -> float | None:
    """Feature extraction seconds per clip recorded in a feature table (summed over the parts
    of a fused table); None when a table predates the record."""
    parts = meta.get("parts") or [meta]
    total = 0.0
    for part in parts:
        value = (part.get("timing") or {}).get("seconds_per_clip")
        if value is None:
            return None
        total += float(value)
    return total


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


TIMED_CLIPS = 16


def check_bundles(bundle_dirs: Sequence[Path], feature_tables: Sequence[Path],
                  pred: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    """Load each fold bundle the way `ser predict` does and check it against evaluation.

    On the clean test clips of its fold: the largest difference between the reloaded bundle's
    probabilities and those recorded at training (0 means `ser predict` reproduces the
    evaluation), the model's own decision rule where it differs from the argmax of the
    probabilities (an SVM's vote, an ensemble's majority vote), and the cost: model time per
    clip (median of single-clip predictions after one warm-up: the latency of one new file),
    bundle size, parameters and training time. Feature time per clip comes from the feature
    table's record (measured when the features were computed)."""
    import json
    import time

    meta_df, X, table_meta = read_table([Path(p) for p in feature_tables])
    row_of = pd.Series(np.arange(len(meta_df)), index=meta_df["id"].astype(str).to_numpy())
    row_of = row_of[~row_of.index.duplicated()]
    snr = pd.to_numeric(pred["snr_db"], errors="coerce")
    clean = pred[snr.isna().to_numpy()]
    prob_cols = [f"prob_{lab}" for lab in labels]
    sizes, params, train_s, model_s, diffs = [], [], [], [], []
    native_true, native_pred, argmax_pred, native_rule = [], [], [], None
    for bdir in bundle_dirs:
        bdir = Path(bdir)
        doc = json.loads((bdir / "bundle.json").read_text(encoding="utf-8"))
        info = doc.get("train_info") or {}
        model_json = bdir / "model" / "model.json"
        n_params = (json.loads(model_json.read_text(encoding="utf-8")).get("n_parameters")
                    if model_json.is_file() else None)
        sizes.append(folder_bytes(bdir))
        params.append(n_params)
        train_s.append(info.get("train_seconds", info.get("fit_seconds")))
        fold = info.get("fold")
        rows = clean[clean["fold"].astype(int) == int(fold)] if fold is not None else clean
        ids = rows["id"].astype(str)
        ids = ids[ids.isin(row_of.index)]
        if ids.empty:
            continue
        idx = row_of.loc[ids.tolist()].to_numpy()
        Xte = X[idx]
        spk = (meta_df["speaker"].astype(str).to_numpy()[idx]
               if bundle_normalize(doc) == "speaker" else None)
        bundle = load_bundle(bdir)
        probs, _ = bundle.predict(Xte, spk)
        col = {lab: j for j, lab in enumerate(bundle.labels)}
        recorded = rows.loc[ids.index, prob_cols].to_numpy(dtype=float)
        mine = np.zeros_like(recorded)
        for j, lab in enumerate(labels):
            if lab in col:
                mine[:, j] = probs[:, col[lab]]
        diffs.append(float(np.max(np.abs(mine - recorded))) if recorded.size else 0.0)
        native = bundle.model.native_predict(bundle.transform(Xte, spk))
        if native is not None:
            native_rule = _native_rule(doc)
            native_true += list(rows.loc[ids.index, "true"].astype(str))
            native_pred += [bundle.labels[int(i)] for i in native]
            argmax_pred += [bundle.labels[int(i)] for i in probs.argmax(axis=1)]
        # latency of one new clip through the model (scaling + model), after a warm-up
        bundle.predict(Xte[:1], None if spk is None else spk[:1])
        times = []
        for i in range(min(TIMED_CLIPS, len(Xte))):
            t0 = time.perf_counter()
            bundle.predict(Xte[i:i + 1], None if spk is None else spk[i:i + 1])
            times.append(time.perf_counter() - t0)
        model_s.append(float(np.median(times)))
    feature_s = _feature_seconds(table_meta)
    model_per_clip = _mean(model_s)
    cost = {
        "bundle_bytes": _mean(sizes),
        "n_parameters": _mean(params),
        "train_seconds": _mean(train_s),
        "feature_seconds_per_clip": feature_s,
        "model_seconds_per_clip": model_per_clip,
        "predict_seconds_per_clip": (None if feature_s is None or model_per_clip is None
                                     else feature_s + model_per_clip),
        "how": (f"means over {len(bundle_dirs)} fold bundle(s); model time = median of "
                f"{TIMED_CLIPS} single-clip predictions at evaluation; feature time = mean per "
                "clean clip recorded when the feature table was computed; training time = "
                "tuning + fit, recorded in the bundle; all on the machine and load of that run"),
    }
    out: dict[str, Any] = {"cost": cost,
                           "reload_max_abs_diff": max(diffs) if diffs else None}
    if native_rule is not None and native_true:
        from sklearn.metrics import balanced_accuracy_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            native_uar = float(balanced_accuracy_score(native_true, native_pred))
            argmax_uar = float(balanced_accuracy_score(native_true, argmax_pred))
        agree = float(np.mean(np.asarray(native_pred) == np.asarray(argmax_pred)))
        out["native_decision"] = {"rule": native_rule, "uar": native_uar,
                                  "uar_of_predicted_label": argmax_uar, "agreement": agree,
                                  "n": len(native_true)}
    return out


def bundle_normalize(doc: Mapping[str, Any]) -> str:
    """A bundle's normalisation mode as recorded in its bundle.json."""
    return str(doc.get("normalize", "global"))


def _native_rule(doc: Mapping[str, Any]) -> str:
    arch = str((doc.get("model") or {}).get("arch") or "")
    return {"svm": "SVC.predict (one-vs-one vote)",
            "ensemble": "majority vote of the members"}.get(arch, f"{arch} predict")


# --------------------------------------------------------------------------- training profile

PROFILE_FILE = "profile.npz"
PROFILE_SAMPLE = 300
"""Training WAVs read (at most, seeded sample) for the duration and level ranges of a bundle."""
LEVEL_MARGIN_DB = 1.0
DURATION_MARGIN = 0.02
"""Slack on the training ranges (1 dB; 2 % of the duration): a training clip re-decoded from
its source file must not look new because of rounding."""


def signal_stats(signal: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(duration in seconds, RMS level in dBFS) of a decoded, prepared clip."""
    x = np.asarray(signal, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
    return x.size / float(sample_rate), 20.0 * float(np.log10(max(rms, 1e-12)))


def feature_distance(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per row: RMS of its features standardised by the training clips' mean and deviation
    (per column, or per mel band for matrices): about 1 for a typical training clip."""
    X = np.asarray(X, dtype=np.float64)
    z = (X - np.asarray(mean)) / np.asarray(scale)
    return np.sqrt(np.mean(z.reshape(len(X), -1) ** 2, axis=1))


def _range(values: Values) -> dict[str, float | int]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0}
    return {"n": int(v.size), "min": float(v.min()), "p01": float(np.quantile(v, 0.01)),
            "median": float(np.median(v)), "p99": float(np.quantile(v, 0.99)),
            "max": float(v.max())}


def wav_stats(paths: Sequence[str | Path], *, n: int = PROFILE_SAMPLE,
              seed: int = 0) -> tuple[list[float], list[float]]:
    """Durations and levels of up to ``n`` of the given WAVs (a seeded sample), so that the
    cost stays bounded however large the corpus; unreadable paths are skipped."""
    import soundfile as sf

    paths = [p for p in paths if isinstance(p, str | Path) and str(p) not in ("", "nan", "None")]
    if len(paths) > n:
        pick = np.random.default_rng(seed).choice(len(paths), size=n, replace=False)
        paths = [paths[i] for i in sorted(pick)]
    durations, levels = [], []
    for p in paths:
        try:
            y, sr = sf.read(str(p), dtype="float32", always_2d=False)
        except (OSError, RuntimeError):
            continue
        if y.ndim > 1:
            y = y.mean(axis=1)
        d, lvl = signal_stats(y, sr)
        durations.append(d)
        levels.append(lvl)
    return durations, levels


def training_profile(X_train: np.ndarray, durations: Sequence[float] = (),
                     levels: Sequence[float] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What `ser predict` compares a new file against: the ranges of feature distance,
    duration and level over the training clips. Returns the JSON summary (for bundle.json) and
    the arrays (mean and scale of the raw training features, for ``profile.npz``)."""
    mean, scale = mean_scale(np.asarray(X_train))
    dist = feature_distance(X_train, mean, scale)
    summary = {
        "feature_distance": _range(dist),
        "duration_s": _range(durations),
        "level_dbfs": _range(levels),
        "definition": ("feature_distance: RMS of a clip's features standardised by the "
                       "training clips' mean and deviation; duration and level (RMS dBFS) of "
                       f"the decoded clip, from up to {PROFILE_SAMPLE} training WAVs"),
    }
    return summary, {"mean": mean, "scale": scale}


def outside_training(summary: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None,
                     features: np.ndarray | None, duration: float | None,
                     level: float | None) -> list[str]:
    """Why a file is far outside what training saw (empty when it is not): duration or level
    outside the training clips' range, or a feature distance beyond the largest in training
    (which 2-3 % of new actors' clean RAVDESS clips exceed, and most clips at 0 dB SNR)."""
    reasons = []
    dur = summary.get("duration_s") or {}
    if duration is not None and dur.get("n"):
        if not (dur["min"] * (1 - DURATION_MARGIN) <= duration
                <= dur["max"] * (1 + DURATION_MARGIN)):
            reasons.append(f"duration {duration:.1f} s is outside the training clips' "
                           f"{dur['min']:.1f}-{dur['max']:.1f} s")
    lvl = summary.get("level_dbfs") or {}
    if level is not None and lvl.get("n"):
        if not lvl["min"] - LEVEL_MARGIN_DB <= level <= lvl["max"] + LEVEL_MARGIN_DB:
            reasons.append(f"level {level:.1f} dBFS is outside the training clips' "
                           f"{lvl['min']:.1f} to {lvl['max']:.1f} dBFS")
    dist = summary.get("feature_distance") or {}
    if features is not None and arrays is not None and dist.get("n"):
        value = float(feature_distance(np.asarray(features)[None], arrays["mean"],
                                       arrays["scale"])[0])
        if value > dist["max"]:
            reasons.append(f"feature distance {value:.2f} is beyond the largest among the "
                           f"training clips ({dist['max']:.2f})")
    return reasons


def bundle_profile(meta_train: pd.DataFrame, X_train: np.ndarray,
                   manifest: Path | str | None = None,
                   seed: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The training profile of a bundle from its training rows (clean ones only: a new file is
    compared with the clips the model learnt from, not their noisy copies) and, for durations
    and levels, the WAVs that the dataset's manifest lists for those clips."""
    clean = np.ones(len(meta_train), dtype=bool)
    if "snr_db" in meta_train.columns:
        clean &= meta_train["snr_db"].isna().to_numpy()
    if "source_id" in meta_train.columns:
        clean &= (meta_train["id"].astype(str) == meta_train["source_id"].astype(str)).to_numpy()
    if not clean.any():
        clean[:] = True
    wavs: list[str] = []
    if manifest is not None and Path(manifest).is_file():
        man = pd.read_parquet(manifest, columns=["id", "wav"])
        ids = set(meta_train.loc[clean, "id"].astype(str))
        wavs = [str(w) for w in man.loc[man["id"].astype(str).isin(ids), "wav"].dropna()]
    durations, levels = wav_stats(wavs, seed=seed)
    return training_profile(np.asarray(X_train)[clean], durations, levels)
