"""What the workflow will build for a config: datasets, shards, feature sets, models and folds.

The Snakemake rules only wire files; every decision about *what* exists (which shard a file is in,
which models apply to which dataset, how many folds) is made here so it can be unit-tested and is
the same for Snakemake, DVC and the benchmarks. Configuration errors are raised at start and name
the offending key.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from ser import listing
from ser.conditions import check_train_on, from_config, rir_files
from ser.corpora import AUDIO_FORMATS, PARSERS, load_table, scan
from ser.errors import ConfigError
from ser.features import FEATURE_SETS, get_feature_set, resolve_variant
from ser.manifest import clip_ids
from ser.modelspec import ModelSpec, for_cross_corpus, resolve_model
from ser.splits import n_folds
from ser.stages import MERGE_OPTIONS

FORMATS: dict[str, tuple[str, ...]] = {
    **{name: p.OPTIONS for name, p in PARSERS.items()}, "merge": MERGE_OPTIONS
}
"""Every dataset format with the keys it reads (corpus parsers, plus `merge`)."""
DATASET_KEYS = ("format", "path", "demo", "shards", "split")
"""Keys of `datasets.NAME` every format takes."""

# what a feature set's kind gives a model (ser.features kinds -> ser.models input kinds)
INPUT_KIND = {"functionals": "vector", "matrix": "matrix"}


def shard_of(rel: str, n_shards: int) -> int:
    """Stable shard of a file: a hash of its corpus-relative path, so one file moves one shard."""
    digest = hashlib.blake2b(rel.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_shards


#: default cap on shards per corpus (audio.max_shards): past max_shards * shard_size files the
#: shards grow instead, so 100k clips stay a few hundred jobs per stage (docs/architecture.md)
MAX_SHARDS = 256


def shard_count(n_files: int, shard_size: int, override: int | None = None,
                max_shards: int = MAX_SHARDS) -> int:
    """Power of two >= n_files / shard_size (adding a few files rarely reshuffles shards),
    capped at `max_shards` (then the count stops changing and shards grow with the corpus)."""
    if override:
        return int(override)
    need = max(1, math.ceil(n_files / max(1, shard_size)))
    return min(1 << (need - 1).bit_length(), max(1, int(max_shards)))


class Plan:
    """The resolved view of one config (after schema defaults) relative to a working directory."""

    def __init__(self, config: Mapping[str, Any], workdir: str | Path = ".") -> None:
        self.config = config
        self.workdir = Path(workdir)
        self._entries: dict[str, list] = {}
        self._shard_map: dict[str, list[list]] = {}
        self._ids: dict[str, dict[str, str]] = {}
        self._listings: dict[str, list[str]] = {}
        self.specs: dict[str, ModelSpec] = {}
        """every model's config resolved once (filled by check)"""
        self.check()

    # ------------------------------------------------------------------ datasets
    @property
    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    def ds(self, name: str) -> dict:
        return self.config["datasets"][name]

    def fmt(self, name: str) -> str:
        return self.ds(name)["format"]

    def is_audio(self, name: str) -> bool:
        return self.fmt(name) in AUDIO_FORMATS

    def is_demo(self, name: str) -> bool:
        return "demo" in self.ds(name)

    def is_synthetic(self, name: str) -> bool:
        """Whether a dataset is (or merges) the generated demo corpus: its models are not
        meant for real speech, and the report and `ser predict` say so."""
        if self.is_demo(name):
            return True
        return any(self.is_synthetic(src) for src in self.ds(name).get("sources", []))

    def corpus_info(self, name: str) -> dict:
        """What evaluation and training record about a dataset's origin."""
        return {"dataset": name, "format": self.fmt(name), "synthetic": self.is_synthetic(name)}

    @property
    def audio_datasets(self) -> list[str]:
        return [d for d in self.datasets if self.is_audio(d)]

    @property
    def demo_datasets(self) -> list[str]:
        return [d for d in self.datasets if self.is_demo(d)]

    def path(self, name: str) -> Path:
        ds = self.ds(name)
        if "path" in ds:
            return Path(ds["path"])
        return Path("results/demo") / name

    def scan_options(self, name: str) -> dict:
        ds = self.ds(name)
        opts = {k: ds[k] for k in FORMATS[self.fmt(name)] if k in ds}
        if self.config.get("emotions"):
            opts["emotions"] = list(self.config["emotions"])
        return opts

    def entries(self, name: str) -> list:
        """Every file of an audio corpus (cached); the corpus folder must exist."""
        if name not in self._entries:
            root = self.workdir / self.path(name)
            self._entries[name] = scan(self.fmt(name), root, self.scan_options(name))
        return self._entries[name]

    def n_shards(self, name: str) -> int:
        audio = self.config["audio"]
        return shard_count(len(self.entries(name)), audio["shard_size"],
                           self.ds(name).get("shards"), audio.get("max_shards", MAX_SHARDS))

    def shards(self, name: str) -> list[int]:
        return list(range(self.n_shards(name)))

    def shard_map(self, name: str) -> list[list]:
        """Entries of every shard, computed once (hashing each path once, not once per shard)."""
        if name not in self._shard_map:
            n = self.n_shards(name)
            out: list[list] = [[] for _ in range(n)]
            for e in self.entries(name):
                out[shard_of(e.rel, n)].append(e)
            self._shard_map[name] = out
        return self._shard_map[name]

    def shard_entries(self, name: str, shard: int) -> list:
        return self.shard_map(name)[shard]

    def shard_inputs(self, name: str, shard: int) -> list[str]:
        """Raw files of one shard (for tools that want them; Snakemake gets the listing)."""
        return [str(e.path) for e in self.shard_entries(name, shard)]

    def ids(self, name: str) -> dict[str, str]:
        """Clip id of every file of a corpus (ser.manifest.clip_ids over the whole corpus)."""
        if name not in self._ids:
            self._ids[name] = clip_ids([e.rel for e in self.entries(name)])
        return self._ids[name]

    def shard_listings(self, name: str) -> list[str]:
        """Listing files of a corpus' shards (ser.listing), the audio shard jobs' inputs.

        Written on first use in this process, each only when its content changed, so a changed
        raw file reruns its shard alone; stale listings of a former shard count are removed."""
        if name not in self._listings:
            folder = Path("results") / "audio" / name / "listing"
            cache = self.workdir / ".snakemake" / "ser" / f"{name}.content.tsv"
            tokens = listing.content_tokens(self.entries(name), cache)
            ids = self.ids(name)
            paths = []
            for k, entries in enumerate(self.shard_map(name)):
                rel = folder / f"{k}.json"
                listing.write_if_changed(self.workdir / rel,
                                         listing.listing_bytes(entries, ids, tokens,
                                                               self.workdir))
                paths.append(str(rel))
            keep = {Path(p).name for p in paths}
            for old in (self.workdir / folder).glob("*.json"):
                if old.name not in keep:
                    old.unlink(missing_ok=True)
            self._listings[name] = paths
        return self._listings[name]

    def shard_listing(self, name: str, shard: int) -> str:
        """Listing file of one shard (see shard_listings)."""
        return self.shard_listings(name)[shard]

    def speakers(self, name: str) -> list[str]:
        if self.is_audio(name):
            return sorted({e.speaker or "unknown" for e in self.entries(name) if e.reject is None})
        if self.fmt(name) == "merge":
            return sorted(f"{s}:{spk}" for s in self.ds(name)["sources"]
                          for spk in self.speakers(s))
        ds = self.ds(name)
        table = load_table(self.workdir / ds["path"], ds.get("label_column", "label"),
                           ds.get("speaker_column", "speaker"))
        return sorted(table["speaker"].astype(str).unique())

    # ------------------------------------------------------------------ features and models
    def feature_sets(self, name: str) -> list[str]:
        if self.fmt(name) == "table":
            return ["table"]
        return list(self.config["features"])

    def feature_set(self, name: str) -> tuple[str, dict[str, Any]]:
        """(registry set, parameters) of a `features` entry: a registry name or a variant (a
        feature_params key with `set:`, BOARD R4)."""
        return resolve_variant(name, self.config.get("feature_params"))

    def feature_kind(self, name: str) -> str:
        """`functionals` or `matrix` (`table` for ready-made tables)."""
        if name == "table":
            return "functionals"
        return get_feature_set(self.feature_set(name)[0]).kind

    def feature_threads(self, name: str) -> int:
        """Threads a features_shard job of this set asks for (Snakemake caps them at --cores)."""
        return int(get_feature_set(self.feature_set(name)[0]).threads)

    def feature_mem_mb(self, name: str) -> int:
        """Memory a features_shard job of this set asks for."""
        return int(get_feature_set(self.feature_set(name)[0]).mem_mb)

    @property
    def models(self) -> list[str]:
        return list(self.config.get("models", {}))

    def model_spec(self, name: str) -> ModelSpec:
        """The model's config resolved at start (what its training jobs receive)."""
        return self.specs[name]

    def cross_spec(self, name: str) -> ModelSpec:
        """The spec of the model's cross-corpus jobs (per-speaker normalisation, with reason)."""
        return for_cross_corpus(self.specs[name])

    def gpu(self, model: str) -> int:
        """GPUs a training job of `model` requests: 1 for TensorFlow families when train.gpu (or
        models.NAME.gpu) is set, else 0."""
        return int(self.specs[model].gpu)

    def model_features(self, model: str) -> list[str]:
        return list(self.specs[model].features)

    def models_for(self, name: str) -> list[str]:
        out = []
        for m in self.models:
            datasets = self.specs[m].datasets
            if datasets is not None and name not in datasets:
                continue
            if all(f in self.feature_sets(name) for f in self.model_features(m)):
                out.append(m)
        return out

    def split_cfg(self, name: str) -> dict:
        merged = dict(self.config["split"])
        merged.update(self.ds(name).get("split", {}))
        return merged

    def n_folds(self, name: str) -> int:
        """The split stage's own count (ser.splits.n_folds), so the two cannot disagree."""
        s = self.split_cfg(name)
        speakers = self.speakers(name) if s["protocol"] == "loso" else None
        return n_folds(s["protocol"], speakers, int(s["folds"]),
                       fold_speakers=s.get("fold_speakers"),
                       holdout_speakers=s.get("holdout_speakers"))

    def folds(self, name: str) -> list[int]:
        return list(range(self.n_folds(name)))

    @cached_property
    def pairs(self) -> list[tuple[str, str]]:
        """(dataset, model) pairs that get trained and evaluated."""
        return [(d, m) for d in self.datasets for m in self.models_for(d)]

    @property
    def final_pairs(self) -> list[tuple[str, str]]:
        """(dataset, model) pairs that also get a final model on all clips (`train.final`)."""
        return self.pairs if self.config.get("train", {}).get("final", True) else []

    @property
    def model_datasets(self) -> list[str]:
        """Datasets with at least one model (each gets a leaderboard.json beside its models)."""
        return list(dict.fromkeys(d for d, _ in self.pairs))

    @property
    def cross(self) -> list[tuple[str, str, str]]:
        """(train dataset, test dataset, model) for cross-corpus evaluation."""
        out = []
        for item in self.config.get("cross_corpus", []):
            a, b = item["train"], item["test"]
            for m in item.get("models") or self.models_for(a):
                if m in self.models_for(a) and m in self.models_for(b):
                    out.append((a, b, m))
        return out

    # ------------------------------------------------------------------ conditions
    @cached_property
    def conditions(self) -> list:
        """Every degraded-copy condition of `augment` (ser.conditions.Condition), noise first."""
        return from_config(self.config.get("augment") or {})

    def augment_conditions(self) -> list[str]:
        """Tags of the non-noise conditions the augment stage makes (noise has its own keys)."""
        return [c.tag for c in self.conditions if c.kind != "noise"]

    def rir_files(self) -> list[str]:
        """Measured impulse responses (`augment.rir`), as inputs of the RIR bank rule."""
        entries = (self.config.get("augment") or {}).get("rir", [])
        return [str(p.relative_to(self.workdir)) if p.is_relative_to(self.workdir) else str(p)
                for p in rir_files(entries, self.workdir)]

    @property
    def needs_rir_bank(self) -> bool:
        return any(c.kind == "reverb" for c in self.conditions)

    # ------------------------------------------------------------------ checks
    def check_features(self) -> None:
        """Every `features` entry resolves to a registry set with valid parameters whose model
        (for pretrained encoders) is installed, and the audio rate suits it."""
        cfg = self.config
        names = list(cfg.get("features", []))
        rate = int(cfg.get("audio", {}).get("sample_rate", 16000))
        for name in names:
            try:
                set_name, params = self.feature_set(name)
                fs = get_feature_set(set_name)
                fs.check(params)
            except ValueError as exc:
                raise ConfigError(f"features: {name}: {exc}") from None
            need = getattr(fs, "sample_rate", None)
            if need and rate != need:
                raise ConfigError(f"features: {name} needs audio.sample_rate: {need} "
                                  f"(the config has {rate})")

    def check(self) -> None:
        cfg = self.config
        try:
            _ = self.conditions
            self.rir_files()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:  # each model's own train_on is checked with its spec (ser.modelspec)
            check_train_on((cfg.get("train") or {}).get("train_on", "clean"))
        except ValueError as exc:
            raise ConfigError(f"train.{exc}") from None
        datasets = cfg.get("datasets") or {}
        self._check_dataset_options()
        for name, ds in datasets.items():
            key = f"datasets.{name}"
            fmt = ds["format"]
            if fmt == "merge":
                for src in ds.get("sources") or []:
                    if src not in datasets:
                        raise ConfigError(f"{key}.sources: unknown dataset {src!r}")
                    if datasets[src]["format"] in ("merge", "table"):
                        raise ConfigError(f"{key}.sources: {src!r} must be an audio corpus")
                if not ds.get("sources"):
                    raise ConfigError(f"{key}.sources: a merge dataset lists at least 2 sources")
                continue
            if "demo" in ds:
                if fmt != "ravdess":
                    raise ConfigError(f"{key}.demo: the demo corpus is in RAVDESS format")
                continue
            if "path" not in ds:
                raise ConfigError(f"{key}.path is required (folder of raw files or a table)")
            p = self.workdir / ds["path"]
            if not p.exists():
                raise ConfigError(f"{key}.path: {ds['path']} does not exist")
            if fmt == "table" and not p.is_file():
                raise ConfigError(f"{key}.path: a table dataset needs a .parquet or .csv file")
            if fmt == "list" and not p.is_file():
                raise ConfigError(f"{key}.path: a list dataset needs a CSV/TSV file listing "
                                  f"path, label[, speaker]; {ds['path']} is a folder")
            if fmt not in ("table", "list") and not p.is_dir():
                raise ConfigError(f"{key}.path: {ds['path']} is not a folder")
            if "speaker_regex" in ds and "speaker_from" in ds:
                raise ConfigError(f"{key}: speaker_regex and speaker_from exclude each other; "
                                  f"keep one")
            if "speaker_regex" in ds:
                try:
                    rx = re.compile(ds["speaker_regex"])
                except re.error as exc:
                    raise ConfigError(f"{key}.speaker_regex: invalid regex: {exc}") from exc
                if rx.groups < 1:
                    raise ConfigError(f"{key}.speaker_regex needs a (group) for the speaker")
        self.check_features()
        self._check_models()
        for i, item in enumerate(cfg.get("cross_corpus", [])):
            for side in ("train", "test"):
                if item[side] not in datasets:
                    raise ConfigError(f"cross_corpus[{i}].{side}: unknown dataset {item[side]!r}")
            if item["train"] == item["test"]:
                raise ConfigError(f"cross_corpus[{i}]: train and test are the same dataset")
        for name in datasets:
            s = self.split_cfg(name)
            if s["protocol"] == "holdout_speakers" and not s.get("holdout_speakers"):
                raise ConfigError(f"split.holdout_speakers is required by protocol holdout_speakers"
                                  f" (dataset {name})")
            if s.get("smote") == "before_split" and s["protocol"] != "random":
                raise ConfigError(f"split.smote: before_split only goes with protocol random "
                                  f"(dataset {name}); use train_only for honest protocols")

    def _check_dataset_options(self) -> None:
        """Each dataset's format is registered and its keys are options of that format."""
        for name, ds in (self.config.get("datasets") or {}).items():
            fmt = ds.get("format")
            if fmt not in FORMATS:
                raise ConfigError(f"datasets.{name}.format: unknown format {fmt!r}; valid: "
                                  f"{', '.join(FORMATS)}")
            for k in ds:
                if k in DATASET_KEYS or k in FORMATS[fmt]:
                    continue
                users = [f for f, options in FORMATS.items() if k in options]
                raise ConfigError(
                    f"datasets.{name}.{k} is only used by format{'s' if len(users) > 1 else ''} "
                    f"{' and '.join(users)}" if users else f"datasets.{name}.{k}: unknown key")

    def _check_models(self) -> None:
        """Resolve every model into its spec (hyperparameters checked against the model
        registry) and check its feature sets against the feature registry's kinds."""
        cfg = self.config
        train = cfg.get("train") or {}
        feats = list(cfg.get("features", []))
        matrix_sets = [n for n, fs in FEATURE_SETS.items() if INPUT_KIND[fs.kind] == "matrix"]
        self.specs = {}
        for m, mc in (cfg.get("models") or {}).items():
            spec = resolve_model(m, mc, train_on=train.get("train_on", "clean"),
                                 condition_balance=bool(train.get("condition_balance", False)),
                                 gpu=bool(train.get("gpu", False)))
            for f in spec.features:
                if f != "table" and f not in feats:
                    raise ConfigError(f"models.{m}.features: {f!r} is not in features {feats}")
            kinds = [INPUT_KIND[self.feature_kind(f)] for f in spec.features]
            if spec.input_kind == "matrix" and kinds != ["matrix"]:
                raise ConfigError(f"models.{m}: arch {spec.arch} takes one matrix feature set "
                                  f"({', '.join(matrix_sets)}), got {list(spec.features)}")
            if spec.input_kind == "vector" and "matrix" in kinds:
                matrix = [f for f, k in zip(spec.features, kinds, strict=True) if k == "matrix"]
                named = [self.feature_set(f)[0] + ("" if self.feature_set(f)[0] == f else f" ({f})")
                         for f in matrix]
                raise ConfigError(f"models.{m}: arch {spec.arch} takes vector features, not "
                                  f"{', '.join(named)}")
            for d in spec.datasets or ():
                if d not in (cfg.get("datasets") or {}):
                    raise ConfigError(f"models.{m}.datasets: unknown dataset {d!r}")
            self.specs[m] = spec
