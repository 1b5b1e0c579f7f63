"""`table` format: a ready-made feature table (parquet or CSV) instead of a folder of media.

There are no files to decode, so `scan` refuses this format and the workflow reads the
table with `load_table`, which brings it to the shape of the pipeline's own feature tables:
`id`, `speaker`, `label` (canonical when recognisable), `original_label`, then the numeric
feature columns and nothing else (callers treat every other numeric column as a feature).
Columns the pipeline itself writes as metadata (`source_id`, `dataset`, `snr_db`, `noise`)
are therefore left out: a noise level must never become a feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Parsed, Parser, canonical_label

if TYPE_CHECKING:
    import pandas as pd

UNKNOWN_SPEAKER = "unknown"
# Metadata columns of the pipeline's own feature tables: never features.
RESERVED = frozenset(
    {"id", "source_id", "dataset", "speaker", "label", "original_label", "snr_db", "noise"}
)


class Table(Parser):
    """Registry placeholder for `table`: constructing it explains to use load_table."""

    name = "table"
    title = "table"
    OPTIONS = ("label_column", "speaker_column")
    READS_MEDIA = False
    pattern = "a parquet or CSV feature table"

    def __init__(self, options: Mapping[str, Any]) -> None:
        raise ValueError(
            "format 'table' is a feature table, not a folder of media files: "
            "read it with ser.corpora.load_table(path) instead of scan"
        )

    def parse(self, rel: Any) -> Parsed:  # pragma: no cover - never constructed
        """Not used: see the class docstring."""
        raise NotImplementedError


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    raise ValueError(f"table {path}: unknown extension {suffix!r}; use .parquet, .csv or .tsv")


def load_table(
    path: Path, label_column: str = "label", speaker_column: str = "speaker"
) -> pd.DataFrame:
    """Read a feature table and normalise its id, speaker and label columns.

    Labels are mapped onto canonical names when recognisable (anger -> angry, ...) and kept
    as written otherwise; the value as written is always in `original_label`. A missing
    speaker column gives speaker "unknown" (unless a non-default column was asked for),
    a missing `id` column gives `row000000`, `row000001`, ...
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"dataset path not found: {path}")
    df = _read(path)
    columns = [str(c) for c in df.columns]
    if label_column not in df.columns:
        raise ValueError(f"table {path}: no label column {label_column!r}; columns: {columns[:20]}")
    missing = df[label_column].isna()
    if missing.any():
        first = int(missing.to_numpy().nonzero()[0][0])
        raise ValueError(
            f"table {path}: {int(missing.sum())} rows have no label in column "
            f"{label_column!r} (first: row {first})"
        )
    original = df[label_column].astype(str)
    label = original.map(lambda v: canonical_label(v) or v)

    if speaker_column in df.columns:
        speaker = df[speaker_column].astype("string").fillna(UNKNOWN_SPEAKER).astype(str)
    elif speaker_column == "speaker":
        speaker = pd.Series(UNKNOWN_SPEAKER, index=df.index)
    else:
        raise ValueError(
            f"table {path}: no speaker column {speaker_column!r}; columns: {columns[:20]}"
        )

    if "id" in df.columns:
        ids = df["id"].astype("string")
        if ids.isna().any() or ids.duplicated().any():
            raise ValueError(f"table {path}: column 'id' has missing or duplicate values")
        ids = ids.astype(str)
    else:
        ids = pd.Series([f"row{i:06d}" for i in range(len(df))], index=df.index)

    skip = RESERVED | {label_column, speaker_column}
    features = [
        c
        for c in df.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]
    if not features:
        raise ValueError(
            f"table {path}: no numeric feature columns besides {label_column!r}, "
            f"{speaker_column!r} and id; columns: {columns[:20]}"
        )
    out = pd.DataFrame({"id": ids, "speaker": speaker, "label": label, "original_label": original})
    out = pd.concat([out, df[features]], axis=1)
    return out.reset_index(drop=True)
