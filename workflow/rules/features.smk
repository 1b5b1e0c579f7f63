# Feature tables per corpus and feature set (ser.features), computed per shard then combined.


rule features_shard:
    input:
        clean="results/audio/{dataset}/shards/{shard}.parquet",
        noisy=noisy_shard_table,
    output:
        table="results/features/{dataset}/shards/{fs}/{shard}.parquet",
        rejected="results/features/{dataset}/shards/{fs}/{shard}.rejected.parquet",
    log:
        "results/logs/features/{dataset}/{fs}/{shard}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    threads: lambda wc: plan.feature_threads(wc.fs)
    resources:
        mem_mb=lambda wc: plan.feature_mem_mb(wc.fs),
        runtime=120,
    params:
        fs_params=lambda wc: config["feature_params"].get(wc.fs, {}),
    script:
        "../../scripts/features_shard.py"


rule features_table:
    input:
        tables=shard_paths("results/features/{dataset}/shards/{fs}/{shard}.parquet"),
        rejected=shard_paths(
            "results/features/{dataset}/shards/{fs}/{shard}.rejected.parquet"
        ),
    output:
        table="results/features/{dataset}/{fs}.parquet",
        rejected="results/manifests/{dataset}.{fs}.rejected.parquet",
    log:
        "results/logs/features/{dataset}/{fs}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    resources:
        mem_mb=4000,
    script:
        "../../scripts/features_table.py"
