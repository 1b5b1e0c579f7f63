# Audio stage: raw videos/audio -> clean 16 kHz mono WAVs + one manifest row per raw file.


checkpoint demo_corpus:
    output:
        directory("results/demo/{dataset}"),
    log:
        "results/logs/demo_corpus/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        demo=lambda wc: plan.ds(wc.dataset)["demo"],
        generator=demo_generator_id(),
    script:
        "../../scripts/demo_corpus.py"


rule audio_shard:
    input:
        listing=shard_listing,
    output:
        table="results/audio/{dataset}/shards/{shard}.parquet",
        wav=directory("results/audio/{dataset}/wav/{shard}"),
    log:
        "results/logs/audio/{dataset}/{shard}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        audio=config["audio"],
    script:
        "../../scripts/audio_shard.py"


rule manifest:
    input:
        shard_paths("results/audio/{dataset}/shards/{shard}.parquet"),
    output:
        manifest="results/manifests/{dataset}.parquet",
        rejected="results/manifests/{dataset}.rejected.csv",
    log:
        "results/logs/manifest/{dataset}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    script:
        "../../scripts/manifest.py"
