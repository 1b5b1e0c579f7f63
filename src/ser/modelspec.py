"""A model's config resolved once, at start, into the typed spec that training consumes.

`Plan` turns every ``models.NAME`` entry into a :class:`ModelSpec` before any job runs: the arch
and its hyperparameters are checked against the family's declaration in the model registry
(:mod:`ser.models.registry`), so an unknown or wrongly typed parameter fails in one line naming
the key; ``train_on`` and ``gpu`` take their ``train`` defaults here and nowhere else. The rules
pass ``spec.to_dict()`` on and training rebuilds it with :meth:`ModelSpec.from_dict`, which
interprets nothing. Cross-corpus pairs get :func:`for_cross_corpus`, which says in the spec
(``normalize_reason``) why it normalises per speaker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ser import models
from ser.bundle import SCALER_MODES
from ser.conditions import check_train_on
from ser.errors import ConfigError, nearest

SPEC_VERSION = 1

# keys of a model's config that configure training, not the model itself
TRAINING_KEYS = frozenset(
    {
        "arch", "features", "datasets", "normalize", "class_weight", "train_on",
        "condition_balance", "val_speakers", "tune", "tune_folds", "gpu", "fallback",
    }
)

FALLBACKS = ("none", "strict")
"""``fallback: strict``: an adaptive (normalize: speaker) model also trains its strict twin."""

STRICT_TWIN_NORMALIZE = (
    "strict twin of an adaptive model: the same recipe standardised with the training "
    "speakers' statistics, for speakers with too few clips to adapt to (normalize: speaker "
    "becomes global)"
)

CROSS_CORPUS_NORMALIZE = (
    "cross-corpus: a scaler fitted on the training corpus alone makes classifiers collapse onto "
    "one class of the other corpus, so each speaker is standardised with its own statistics on "
    "both sides (normalize: global becomes speaker)"
)


@dataclass(frozen=True)
class ModelSpec:
    """Everything training needs to know about one configured model, checked and defaulted."""

    name: str
    arch: str
    features: tuple[str, ...]
    params: dict[str, Any]
    """hyperparameters as configured (validated; the family fills in its defaults)"""
    normalize: str = "global"
    normalize_reason: str | None = None
    """why normalize differs from the config (cross-corpus), None when it does not"""
    class_weight: bool = False
    train_on: str | tuple[str, ...] = "clean"
    """clean, clean+noisy, or the condition kinds (and clean) to train on (ser.conditions)"""
    condition_balance: bool = False
    val_speakers: float = 1
    tune: dict[str, list[Any]] = field(default_factory=dict)
    tune_folds: int = 3
    datasets: tuple[str, ...] | None = None
    gpu: bool = False
    """request a GPU for its training jobs (only ever true for TensorFlow families)"""
    fallback: str = "none"
    """strict: also train the strict twin (:func:`strict_twin`) of this adaptive model"""
    tensorflow: bool = False
    input_kind: str = "vector"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a rule's params (JSON/YAML-able); :meth:`from_dict` reverses it."""
        d = asdict(self)
        d["features"] = list(self.features)
        d["datasets"] = None if self.datasets is None else list(self.datasets)
        d["train_on"] = self.train_on if isinstance(self.train_on, str) else list(self.train_on)
        return {"spec": SPEC_VERSION, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """The spec that :meth:`to_dict` wrote (nothing is re-derived)."""
        if d.get("spec") != SPEC_VERSION:
            raise ValueError(f"not a model spec (spec version {d.get('spec')!r})")
        fields = {k: v for k, v in d.items() if k != "spec"}
        fields["features"] = tuple(fields["features"])
        if fields.get("datasets") is not None:
            fields["datasets"] = tuple(fields["datasets"])
        if not isinstance(fields.get("train_on", "clean"), str):
            fields["train_on"] = tuple(fields["train_on"])
        fields["params"] = dict(fields["params"])
        fields["tune"] = {k: list(v) for k, v in (fields.get("tune") or {}).items()}
        return cls(**fields)


def _check_params(key: str, arch: str, params: dict[str, Any]) -> None:
    """Validate hyperparameters against the family's declaration; the error names the key."""
    cls = models.arch_class(arch)
    for k in params:
        if k not in cls.DEFAULTS:
            valid = ", ".join(sorted(cls.DEFAULTS)) or "(none)"
            near = nearest(k, cls.DEFAULTS)
            hint = f"did you mean {near}? " if near else ""
            raise ConfigError(f"{key}.{k}: unknown parameter of arch {arch}; {hint}valid: {valid}")
    try:
        models.validate_params(arch, params)
    except ValueError as exc:
        # name the key: validate growing prefixes (`base` first: member params depend on it)
        keys = sorted(params, key=lambda k: k != "base")
        for i, k in enumerate(keys):
            try:
                models.validate_params(arch, {j: params[j] for j in keys[: i + 1]})
            except ValueError as one:
                raise ConfigError(f"{key}.{k}: {one}") from None
        raise ConfigError(f"{key}: {exc}") from None


def resolve_model(name: str, cfg: Mapping[str, Any], *,
                  train_on: str | Sequence[str] = "clean", condition_balance: bool = False,
                  gpu: bool = False) -> ModelSpec:
    """Check ``models.NAME`` and resolve it into a spec (``train_on``, ``condition_balance``,
    ``gpu``: the ``train`` defaults). Raises :class:`ConfigError` naming the key."""
    key = f"models.{name}"
    if "arch" not in cfg:
        raise ConfigError(f"{key}.arch is required; valid: {', '.join(models.ARCHS)}")
    arch = str(cfg["arch"])
    if arch not in models.ARCHS:
        raise ConfigError(f"{key}.arch: unknown arch {arch!r}; valid: {', '.join(models.ARCHS)}")
    feats = cfg.get("features")
    if not feats:
        raise ConfigError(f"{key}.features is required (a feature set name or a list of names)")
    params = {k: v for k, v in cfg.items() if k not in TRAINING_KEYS}
    _check_params(key, arch, params)

    normalize = cfg.get("normalize", "global")
    if normalize not in SCALER_MODES:
        raise ConfigError(f"{key}.normalize must be one of {', '.join(SCALER_MODES)}, "
                          f"got {normalize!r}")
    model_train_on = cfg.get("train_on", train_on)
    try:
        check_train_on(model_train_on)
    except ValueError as exc:
        raise ConfigError(f"{key}.{exc}") from None
    tune = cfg.get("tune") or {}
    if not isinstance(tune, Mapping) or any(not isinstance(v, list) or not v
                                            for v in tune.values()):
        raise ConfigError(f"{key}.tune must map parameter names to non-empty lists of values")
    for k, values in tune.items():
        for v in values:
            _check_params(f"{key}.tune", arch, {**params, k: v})
    fallback = cfg.get("fallback", "none")
    if fallback not in FALLBACKS:
        raise ConfigError(f"{key}.fallback must be one of {', '.join(FALLBACKS)}, "
                          f"got {fallback!r}")
    if fallback == "strict" and normalize != "speaker":
        raise ConfigError(f"{key}.fallback: strict is the strict twin of an adaptive model: add "
                          "normalize: speaker (or drop fallback)")
    tensorflow = models.uses_tensorflow(arch, params)
    if cfg.get("gpu") and not tensorflow:
        raise ConfigError(f"{key}.gpu: arch {arch} does not train with TensorFlow, so a GPU "
                          "would sit idle; remove the key (only Keras families, or an ensemble "
                          "or late_fusion of them, use one)")
    datasets = cfg.get("datasets")
    return ModelSpec(
        name=name,
        arch=arch,
        features=(feats,) if isinstance(feats, str) else tuple(feats),
        params=params,
        normalize=str(normalize),
        class_weight=bool(cfg.get("class_weight", False)),
        train_on=(model_train_on if isinstance(model_train_on, str)
                  else tuple(str(k) for k in model_train_on)),
        condition_balance=bool(cfg.get("condition_balance", condition_balance)),
        val_speakers=cfg.get("val_speakers", 1),
        tune={str(k): list(v) for k, v in tune.items()},
        tune_folds=int(cfg.get("tune_folds", 3)),
        datasets=None if datasets is None else tuple(datasets),
        gpu=bool(cfg.get("gpu", gpu)) and tensorflow,
        fallback=str(fallback),
        tensorflow=tensorflow,
        input_kind=models.input_kind(arch, params),
    )


def for_cross_corpus(spec: ModelSpec) -> ModelSpec:
    """The spec of a cross-corpus pair: ``normalize: global`` becomes ``speaker``, with the
    reason recorded (other modes are kept)."""
    if spec.normalize != "global":
        return spec
    return replace(spec, normalize="speaker", normalize_reason=CROSS_CORPUS_NORMALIZE)


def strict_twin(spec: ModelSpec) -> ModelSpec:
    """The strict twin of an adaptive model (``fallback: strict``): standardised with the
    training speakers' statistics, with the reason recorded."""
    return replace(spec, normalize="global", normalize_reason=STRICT_TWIN_NORMALIZE,
                   fallback="none")


def as_spec(model: ModelSpec | Mapping[str, Any], name: str = "model", *,
            cross_corpus: bool = False) -> ModelSpec:
    """A spec from what a caller passes: a spec, its dict form (from a rule), or a model config
    (library callers and tests), which goes through :func:`resolve_model` (and, for a
    cross-corpus pair, :func:`for_cross_corpus`)."""
    if isinstance(model, ModelSpec):
        return model
    if "spec" in model:
        return ModelSpec.from_dict(model)
    spec = resolve_model(name, model)
    return for_cross_corpus(spec) if cross_corpus else spec
