"""Shard listings: one small file per shard stands for its raw files (real RAVDESS clips)."""

import os
import shutil
from pathlib import Path

import pytest
from snakemake.utils import validate

from ser import listing
from ser.plan import Plan, shard_count

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-dev"

pytestmark = pytest.mark.skipif(not RAVDESS.is_dir(), reason="../shared/data not present")


def make_plan(work: Path) -> Plan:
    cfg = {"datasets": {"r": {"format": "ravdess", "path": "corpus"}},
           "audio": {"shard_size": 8}, "features": ["egemaps"]}
    validate(cfg, SCHEMA)
    return Plan(cfg, work)


@pytest.fixture
def work(tmp_path):
    for f in sorted(RAVDESS.glob("Actor_01/*.flac"))[:24:2] + \
            sorted(RAVDESS.glob("Actor_07/*.flac"))[:24:2]:
        dest = tmp_path / "corpus" / f.parent.name / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    (tmp_path / "corpus" / "Actor_01" / "notes.txt").write_text("not audio")
    return tmp_path


def listings(work: Path) -> dict[str, tuple[int, bytes]]:
    folder = work / "results" / "audio" / "r" / "listing"
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("*.json")}


def test_listings_carry_the_shards_and_ids(work):
    plan = make_plan(work)
    paths = plan.shard_listings("r")
    assert len(paths) == plan.n_shards("r") == 4  # 25 files, 8 per shard: 4 shards
    for k, p in enumerate(paths):
        entries, ids = listing.read_listing(work / p, work)
        assert [e.rel for e in entries] == [e.rel for e in plan.shard_entries("r", k)]
        assert entries == plan.shard_entries("r", k)
        assert ids == {e.rel: plan.ids("r")[e.rel] for e in entries}


def test_a_copy_of_the_project_elsewhere_has_identical_listings(work, tmp_path_factory):
    """A clone or `dvc pull` into another folder must not rerun every shard: paths under the
    working directory are stored relative to it; a corpus outside it keeps its own path."""
    paths = make_plan(work).shard_listings("r")
    assert str(work) not in (work / paths[0]).read_text()
    copy = tmp_path_factory.mktemp("copy") / "project"
    shutil.copytree(work / "corpus", copy / "corpus")
    shutil.copytree(work / "results", copy / "results")
    before = {p.name: p.stat().st_mtime_ns for p in (copy / paths[0]).parent.glob("*.json")}
    assert make_plan(copy).shard_listings("r") == paths
    after = {p.name: p.stat().st_mtime_ns for p in (copy / paths[0]).parent.glob("*.json")}
    assert after == before  # nothing rewritten
    entries, _ = listing.read_listing(copy / paths[0], copy)
    assert all(e.path.is_file() and e.path.is_relative_to(copy) for e in entries)

    outside = {"datasets": {"r": {"format": "ravdess", "path": str(work / "corpus")}},
               "audio": {"shard_size": 8}, "features": ["egemaps"]}
    validate(outside, SCHEMA)
    other = tmp_path_factory.mktemp("other")
    listed = Plan(outside, other).shard_listings("r")
    assert str(work / "corpus") in (other / listed[0]).read_text()


def test_touch_is_no_change_and_an_edit_changes_one_listing(work, monkeypatch):
    make_plan(work).shard_listings("r")
    before = listings(work)
    clip = sorted((work / "corpus" / "Actor_07").glob("*.flac"))[0]
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touch: same bytes
    hashed = []
    real = listing._hash_file
    monkeypatch.setattr(listing, "_hash_file", lambda p: hashed.append(p) or real(p))
    make_plan(work).shard_listings("r")
    assert listings(work) == before  # not even rewritten: Snakemake sees the old mtime
    assert hashed == [str(clip)]  # only the touched file is read again (cache by size+mtime)
    hashed.clear()
    make_plan(work).shard_listings("r")
    assert hashed == []  # and now its new mtime is cached

    other = sorted((work / "corpus" / "Actor_01").glob("*.flac"))[0]
    clip.write_bytes(other.read_bytes())  # an edit: new bytes
    make_plan(work).shard_listings("r")
    after = listings(work)
    changed = [k for k in before if after[k] != before[k]]
    assert len(changed) == 1
    other.unlink()  # a removal changes its shard only
    make_plan(work).shard_listings("r")
    assert sum(listings(work)[k] != after[k] for k in after) == 1


def test_shard_count_is_capped_so_big_corpora_stay_small_dags():
    assert shard_count(100_000, 128) == 256
    assert shard_count(100_000, 128, max_shards=512) == 512
    assert shard_count(10_000, 128) == 128  # below the cap: unchanged
    assert shard_count(100_000, 128, override=1000) == 1000  # datasets.NAME.shards wins
