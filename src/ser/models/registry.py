"""The model registry: every family by arch name, and what each one needs.

A family class declares its capabilities as class attributes, and everything else derives from
them (the config schema's arch list, `Plan`'s checks, the GPU request of a training job, the docs'
tables):

- ``arch``: its name in configs; ``input_kind``: ``vector`` (functionals) or ``matrix``
  (log-mel frames);
- ``TENSORFLOW``: a Keras network (TensorFlow at training time; a GPU helps);
- ``DEFAULTS``: its hyperparameters with their defaults, whose types are the declared types
  (``NULLABLE``/``ANY_TYPE`` relax that), checked by ``validate_params``;
- ``HAS_MEMBERS``: made of member models of a ``base`` family (ensemble, late_fusion), whose
  capabilities are the base's (:func:`family`).

``ARCHS`` is filled by :mod:`ser.models` (the one list of families); this module holds the
functions over it so that composite families can build members without importing the package.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ser.models.base import BaseModel, Model, read_meta

ARCHS: dict[str, type[BaseModel]] = {}
"""Every model family by arch name (filled, in a fixed order, by ser/models/__init__.py)."""

RUNTIMES = ("auto", "keras", "litert")


def arch_class(arch: str) -> type[BaseModel]:
    """The family class of `arch`; an unknown name is a ValueError listing the valid ones."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(sorted(ARCHS))}")
    return ARCHS[arch]


def family(arch: str, params: dict | None = None) -> type[BaseModel]:
    """The class that does the work: the arch's own, or the base of a model of member models."""
    cls = arch_class(arch)
    if cls.HAS_MEMBERS:
        cls = arch_class(cls.resolve_params(params)["base"])
    return cls


def uses_tensorflow(arch: str, params: dict | None = None) -> bool:
    """Whether training runs TensorFlow (a Keras family, or members of one): a GPU helps."""
    return family(arch, params).TENSORFLOW


def input_kind(arch: str, params: dict | None = None) -> str:
    """ "vector" or "matrix": the feature kind an arch takes (a composite takes its base's)."""
    return family(arch, params).input_kind


def validate_params(arch: str, params: dict | None = None) -> dict[str, Any]:
    """Hyperparameters merged over the family's defaults, after checking names and types (and a
    composite's base and member parameters); ValueError names the offending key."""
    return arch_class(arch).validate_params(params)


def build(
    arch: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    params: dict | None = None,
    seed: int = 0,
) -> Model:
    """A fresh, untrained model; unknown arch or parameter -> ValueError naming it."""
    return arch_class(arch)(tuple(input_shape), n_classes, params, seed)  # type: ignore[return-value]


def load(model_dir: Path, runtime: str = "auto") -> Model:
    """Load a model saved by `Model.save` (model.json, then the family's own files).

    `runtime` matters for Keras families only: "auto" runs the verified LiteRT copy saved beside
    the network when there is one and `ai-edge-litert` is installed (no TensorFlow import:
    ~0.1 s instead of ~5 s), else Keras; "keras" always loads TensorFlow; "litert" fails when
    there is no LiteRT copy."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    meta = read_meta(Path(model_dir))
    return arch_class(meta["arch"])._from_meta(Path(model_dir), meta, runtime)  # type: ignore[return-value]


def combine_runtimes(kinds: Iterable[str]) -> str:
    """One runtime for several models: theirs when they agree, else "mixed"."""
    distinct = set(kinds)
    return distinct.pop() if len(distinct) == 1 else "mixed"


def runtime_of(model: Any) -> str:
    """How a (loaded or just saved) model predicts: "litert", "keras" or "native" (sklearn,
    xgboost); a model whose members differ reports "mixed"."""
    members = getattr(model, "members", None)
    if members is not None:
        return combine_runtimes(runtime_of(m) for m in members)
    if getattr(model, "lite", None) is not None:
        return "litert"
    return "keras" if hasattr(model, "net") else "native"
