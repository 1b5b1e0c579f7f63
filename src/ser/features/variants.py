"""Named feature-set variants (BOARD R4): one registry set under several names in one run.

    features: [egemaps, whisper, whisper_base]
    feature_params:
      whisper_base: {set: whisper, model: base}   # a feature_params key with `set:` is a variant

A name in `features` is a registry name (its parameters: `feature_params[name]`, if any), or a
`feature_params` key that has `set:` naming a registry set. The variant's table is
results/features/{dataset}/{variant}.parquet; its metadata names the registry set (`feature_set`,
which is what `ser predict` rebuilds the extractor from), its parameters and the variant name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ser.errors import nearest
from ser.features.registry import FEATURE_SETS

SET_KEY = "set"


def split_variant(name: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(registry set name, parameters without `set`) of a features entry and its params."""
    p = dict(params or {})
    target = p.pop(SET_KEY, None)
    return (str(target) if target is not None else name), p


def resolve_variant(name: str, feature_params: Mapping[str, Any] | None
                    ) -> tuple[str, dict[str, Any]]:
    """(registry set name, parameters) of a `features` entry, checked against the registry.

    Raises ValueError naming the config key and what to do."""
    feature_params = feature_params or {}
    raw = feature_params.get(name) or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"feature_params.{name} must be a mapping of parameters")
    target = raw.get(SET_KEY)
    if target is None:
        if name not in FEATURE_SETS:
            near = nearest(name, FEATURE_SETS)
            hint = f"did you mean {near}? " if near else ""
            raise ValueError(
                f"unknown feature set {name!r}; {hint}known: {sorted(FEATURE_SETS)}, or "
                f"define a variant: feature_params: {{{name}: {{set: SET, ...}}}}")
        return name, dict(raw)
    if target not in FEATURE_SETS:
        raise ValueError(f"feature_params.{name}.set: unknown feature set {target!r}; known: "
                         f"{sorted(FEATURE_SETS)}")
    if name in FEATURE_SETS and target != name:
        raise ValueError(f"feature_params.{name}.set: {name!r} is a registry set itself; give "
                         f"the variant its own name")
    return split_variant(name, raw)


def variant_names(feature_params: Mapping[str, Any] | None) -> list[str]:
    """Keys of feature_params that define variants."""
    return [k for k, v in (feature_params or {}).items()
            if isinstance(v, Mapping) and SET_KEY in v]
