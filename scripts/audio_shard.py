"""Snakemake adapter: decode one shard of a corpus to clean WAVs (ser.manifest).

The shard's files, ids and labels come from its listing (written by the Plan), so a job never
rescans the corpus."""
from pathlib import Path

from ser.listing import read_listing
from ser.manifest import audio_shard_table
from ser.smk import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
a = sm.params.audio


def main():
    entries, ids = read_listing(sm.input.listing)
    return audio_shard_table(
        entries, ids, int(sm.wildcards.shard), Path(sm.output.table), Path(sm.output.wav),
        sample_rate=a["sample_rate"], min_duration=a["min_duration"],
        silence_dbfs=a["silence_dbfs"], trim_db=a.get("trim_db"))


run(sm, main)
