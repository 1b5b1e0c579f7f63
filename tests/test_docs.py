"""The docs' tables list what the registries hold (models, feature sets, corpus formats)."""

import re
from pathlib import Path

from ser.docs_tables import render
from ser.features import FEATURE_SETS
from ser.plan import FORMATS

ROOT = Path(__file__).resolve().parents[1]
CONFIG_README = (ROOT / "config" / "README.md").read_text()


def first_column(section: str) -> list[str]:
    """Names in the first column of the first table after a heading (`name` cells)."""
    text = CONFIG_README[CONFIG_README.index(section) - 1:]
    table = re.search(r"\n(\|.*\|\n\|[-|]+\|\n(?:\|.*\|\n)+)", text).group(1)
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in table.splitlines()[2:]]


def test_generated_model_table_is_current():
    assert render(CONFIG_README) == CONFIG_README, "run: python -m ser.docs_tables"


def test_feature_table_lists_the_feature_registry():
    assert first_column("## `features`") == list(FEATURE_SETS)


def test_format_table_lists_the_corpus_formats():
    audio = [f for f in FORMATS if f not in ("table", "merge")]
    assert first_column("| format | layout | speaker |") == audio
