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

AUDIO_FORMATS = ("ravdess", "cremad", "tess", "savee", "rml", "emodb", "urdu", "folders",
                 "list")
MATRIX_ARCHS = ("cnn", "lstm", "inception")


class ConfigError(ValueError):
    """A configuration problem, raised before any job runs; the message names the key."""


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
        keys = ("speaker_regex", "speaker_from", "vocal_channel", "path_column", "label_column",
                "speaker_column")
        opts = {k: ds[k] for k in keys if k in ds}
        if self.config.get("emotions"):
            opts["emotions"] = list(self.config["emotions"])
        return opts

    def entries(self, name: str) -> list:
        """Every file of an audio corpus (cached); the corpus folder must exist."""
        if name not in self._entries:
            from ser.corpora import scan

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
            from ser.manifest import clip_ids

            self._ids[name] = clip_ids([e.rel for e in self.entries(name)])
        return self._ids[name]

    def shard_listings(self, name: str) -> list[str]:
        """Listing files of a corpus' shards (ser.listing), the audio shard jobs' inputs.

        Written on first use in this process, each only when its content changed, so a changed
        raw file reruns its shard alone; stale listings of a former shard count are removed."""
        if name not in self._listings:
            from ser import listing

            folder = Path("results") / "audio" / name / "listing"
            cache = self.workdir / ".snakemake" / "ser" / f"{name}.content.tsv"
            tokens = listing.content_tokens(self.entries(name), cache)
            ids = self.ids(name)
            paths = []
            for k, entries in enumerate(self.shard_map(name)):
                rel = folder / f"{k}.json"
                listing.write_if_changed(self.workdir / rel,
                                         listing.listing_bytes(entries, ids, tokens))
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
        from ser.corpora import load_table

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
        from ser.features import resolve_variant

        return resolve_variant(name, self.config.get("feature_params"))

    def feature_kind(self, name: str) -> str:
        """`functionals` or `matrix` (`table` for ready-made tables)."""
        if name == "table":
            return "functionals"
        from ser.features import get_feature_set

        return get_feature_set(self.feature_set(name)[0]).kind

    def feature_threads(self, name: str) -> int:
        """Threads a features_shard job of this set asks for (Snakemake caps them at --cores)."""
        from ser.features import get_feature_set

        return int(get_feature_set(self.feature_set(name)[0]).threads)

    def feature_mem_mb(self, name: str) -> int:
        """Memory a features_shard job of this set asks for."""
        from ser.features import get_feature_set

        return int(get_feature_set(self.feature_set(name)[0]).mem_mb)

    @property
    def models(self) -> list[str]:
        return list(self.config.get("models", {}))

    def model(self, name: str) -> dict:
        return self.config["models"][name]

    def model_features(self, model: str) -> list[str]:
        f = self.model(model)["features"]
        return [f] if isinstance(f, str) else list(f)

    def models_for(self, name: str) -> list[str]:
        out = []
        for m in self.models:
            cfg = self.model(m)
            if "datasets" in cfg and name not in cfg["datasets"]:
                continue
            if all(f in self.feature_sets(name) for f in self.model_features(m)):
                out.append(m)
        return out

    def split_cfg(self, name: str) -> dict:
        merged = dict(self.config["split"])
        merged.update(self.ds(name).get("split", {}))
        return merged

    def n_folds(self, name: str) -> int:
        from ser.splits import n_folds  # the split stage's own rule, so the two cannot disagree

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
        from ser.conditions import from_config

        return from_config(self.config.get("augment") or {})

    def augment_conditions(self) -> list[str]:
        """Tags of the non-noise conditions the augment stage makes (noise has its own keys)."""
        return [c.tag for c in self.conditions if c.kind != "noise"]

    def rir_files(self) -> list[str]:
        """Measured impulse responses (`augment.rir`), as inputs of the RIR bank rule."""
        from ser.conditions import rir_files

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
        from ser.features import get_feature_set

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
        from ser.conditions import check_train_on

        for key, section in [("train", cfg.get("train") or {})] + [
                (f"models.{m}", mc) for m, mc in (cfg.get("models") or {}).items()]:
            if "train_on" in section:
                try:
                    check_train_on(section["train_on"])
                except ValueError as exc:
                    raise ConfigError(f"{key}.{exc}") from None
        datasets = cfg.get("datasets") or {}
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
            for opt in ("speaker_regex", "speaker_from"):
                if opt in ds and fmt not in ("folders", "list"):
                    raise ConfigError(f"{key}.{opt} is only used by formats folders and list")
            if "speaker_regex" in ds and "speaker_from" in ds:
                raise ConfigError(f"{key}: speaker_regex and speaker_from exclude each other; "
                                  f"keep one")
            if "path_column" in ds and fmt != "list":
                raise ConfigError(f"{key}.path_column is only used by format list")
            if "speaker_regex" in ds:
                try:
                    rx = re.compile(ds["speaker_regex"])
                except re.error as exc:
                    raise ConfigError(f"{key}.speaker_regex: invalid regex: {exc}") from exc
                if rx.groups < 1:
                    raise ConfigError(f"{key}.speaker_regex needs a (group) for the speaker")
        feats = set(cfg.get("features", []))
        self.check_features()
        for m, mc in (cfg.get("models") or {}).items():
            fs = [mc["features"]] if isinstance(mc["features"], str) else mc["features"]
            for f in fs:
                if f != "table" and f not in feats:
                    raise ConfigError(
                        f"models.{m}.features: {f!r} is not in features {sorted(feats)}"
                    )
            matrix = [f for f in fs if f != "table" and self.feature_kind(f) == "matrix"]
            if mc["arch"] in MATRIX_ARCHS and (len(fs) != 1 or not matrix):
                raise ConfigError(f"models.{m}: arch {mc['arch']} needs features: logmel")
            if mc["arch"] not in MATRIX_ARCHS and matrix:
                raise ConfigError(
                    f"models.{m}: arch {mc['arch']} takes vector features, not logmel")
            for d in mc.get("datasets", []):
                if d not in datasets:
                    raise ConfigError(f"models.{m}.datasets: unknown dataset {d!r}")
            if mc.get("fallback", "none") == "strict" and mc.get("normalize") != "speaker":
                raise ConfigError(f"models.{m}.fallback: strict is the strict twin of an "
                                  "adaptive model: add normalize: speaker (or drop fallback)")
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
