"""Per-shard listings of a corpus: what an audio shard job reads instead of its raw files.

Why: with the raw files as Snakemake inputs, a 100k-clip corpus means 100k input files that
Snakemake stats, flags and checksums on every run, and every shard job rescanned the whole
corpus to find its own files. Instead the Plan scans the corpus once per Snakemake run and
writes one small listing per shard (every file's clip id, speaker, label, metadata, reject
reason, size and content hash). A listing is rewritten only when its content changes, so a
changed, added or removed raw file reruns its shard alone, and a file whose mtime changed but
whose bytes did not (a touch, a copy, a `dvc checkout`) reruns nothing, as with Snakemake's own
input checksums. Content hashes are cached by (size, mtime) in `.snakemake/ser/`, so only new
or touched files are read; files over Snakemake's checksum limit (1 MB) are identified by size
and mtime, as Snakemake does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ser.corpora import Entry
from ser.io import atomic_path

#: files larger than this are identified by size and mtime instead of a content hash
#: (Snakemake's default --max-checksum-file-size)
MAX_HASH_BYTES = 1_000_000
LISTING_VERSION = 2  # 2: paths under the working directory are relative


def _hash_file(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def content_tokens(entries: Sequence[Entry], cache_file: Path) -> dict[str, str]:
    """rel -> a token that changes when the file's bytes change: a content hash (cached by
    size and mtime in `cache_file`), `mtime:...` for large files, `-` for files that are
    rejected before decoding (not media, bad name, broken link), whose bytes are never read."""
    cache: dict[str, tuple[int, int, str]] = {}
    try:
        for line in Path(cache_file).read_text(encoding="utf-8").splitlines():
            rel, size_text, mtime_text, token = line.rsplit("\t", 3)
            cache[rel] = (int(size_text), int(mtime_text), token)
    except (OSError, ValueError):
        cache = {}
    tokens: dict[str, str] = {}
    todo: list[tuple[str, str, int, int]] = []
    fresh: dict[str, tuple[int, int, str]] = {}
    for e in entries:
        if e.reject is not None:
            tokens[e.rel] = "-"
            continue
        try:
            st = os.stat(e.path)
        except OSError:
            tokens[e.rel] = "missing"
            continue
        size, mtime = st.st_size, st.st_mtime_ns
        hit = cache.get(e.rel)
        if hit is not None and hit[0] == size and hit[1] == mtime:
            tokens[e.rel] = hit[2]
        elif size > MAX_HASH_BYTES:
            tokens[e.rel] = f"mtime:{mtime}"
        else:
            todo.append((e.rel, str(e.path), size, mtime))
            continue
        fresh[e.rel] = (size, mtime, tokens[e.rel])
    if todo:  # hashlib releases the GIL on large buffers: threads overlap reading and hashing
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            digests = pool.map(lambda t: _safe_hash(t[1]), todo, chunksize=64)
            for (rel, _, size, mtime), digest in zip(todo, digests, strict=True):
                tokens[rel] = digest
                fresh[rel] = (size, mtime, digest)
    if fresh != cache:
        lines = [f"{rel}\t{s}\t{m}\t{t}" for rel, (s, m, t) in sorted(fresh.items())]
        cache_file = Path(cache_file)
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_file) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens


def _safe_hash(path: str) -> str:
    try:
        return "blake2b:" + _hash_file(path)
    except OSError as exc:
        return f"unreadable:{exc.errno}"


def _stored_path(path: Path, base: str | None) -> str:
    """A file under the working directory is stored relative to it, so that a clone or a copy
    of the project elsewhere (or a `dvc pull` into one) has byte-identical listings and reruns
    nothing; a corpus outside it keeps the path as configured."""
    if base is None:
        return str(path)
    full = os.path.abspath(path)
    if full == base or full.startswith(base + os.sep):
        return os.path.relpath(full, base)
    return str(path)


def listing_bytes(entries: Sequence[Entry], ids: Mapping[str, str],
                  tokens: Mapping[str, str], base: str | os.PathLike | None = None) -> bytes:
    """The listing of one shard as deterministic JSON (one json.dumps per shard: per-file calls
    cost seconds on 10^5 files). Paths under `base` (the working directory) are stored relative
    to it."""
    root = os.path.abspath(base) if base is not None else None
    files = [{
        "id": ids[e.rel], "rel": e.rel, "path": _stored_path(e.path, root), "speaker": e.speaker,
        "original_label": e.original_label, "label": e.label, "meta": e.meta,
        "reject": e.reject, "content": tokens[e.rel],
    } for e in entries]
    doc = {"version": LISTING_VERSION, "files": files}
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` atomically unless the file already holds exactly it (keeping its mtime, so
    Snakemake sees no change); return whether it was written."""
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return True


def read_listing(path: str | os.PathLike, base: str | os.PathLike = "."
                 ) -> tuple[list[Entry], dict[str, str]]:
    """Entries of one shard and their clip ids, as the Plan listed them; relative file paths
    are taken from `base`, the working directory the listing was written for."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("version") != LISTING_VERSION:
        raise ValueError(f"{path}: listing version {data.get('version')}, expected "
                         f"{LISTING_VERSION}; rerun snakemake to rewrite it")
    entries, ids = [], {}
    for f in data["files"]:
        entries.append(Entry(Path(base) / f["path"], f["rel"], f["speaker"], f["original_label"],
                             f["label"], dict(f["meta"]), f["reject"]))
        ids[f["rel"]] = f["id"]
    return entries, ids
