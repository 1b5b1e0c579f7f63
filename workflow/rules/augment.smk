# Degraded copies of every clean clip: noise at each SNR in augment.snr_db, and the other
# conditions of augment (reverb_rt60/rir, telephone, codec, gain_db) (ser.augment, ser.conditions).


rule rir_bank:
    input:
        plan.rir_files(),
    output:
        "results/augment/rir_bank.npz",
    log:
        "results/logs/augment/rir_bank.log",
    conda:
        CONDA_ENV
    params:
        audio=config["audio"],
        augment=config["augment"],
    script:
        "../../scripts/rir_bank.py"


rule babble_bank:
    input:
        lambda wc: shard_paths("results/audio/{dataset}/shards/{shard}.parquet")(wc)[:2],
    output:
        "results/augment/{dataset}/babble_bank.npz",
    log:
        "results/logs/augment/{dataset}/babble_bank.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    params:
        audio=config["audio"],
        augment=config["augment"],
    script:
        "../../scripts/babble_bank.py"


rule augment_shard:
    input:
        table="results/audio/{dataset}/shards/{shard}.parquet",
        babble=lambda wc: (
            f"results/augment/{wc.dataset}/babble_bank.npz"
            if "babble" in config["augment"]["noise"]
            else []
        ),
        rirs="results/augment/rir_bank.npz" if plan.needs_rir_bank else [],
    output:
        table="results/augment/{dataset}/shards/{shard}.parquet",
        wav=directory("results/augment/{dataset}/wav/{shard}"),
    log:
        "results/logs/augment/{dataset}/{shard}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        audio=config["audio"],
        augment=config["augment"],
        conditions=plan.augment_conditions(),
    script:
        "../../scripts/augment_shard.py"


rule augment_table:
    input:
        shard_paths("results/augment/{dataset}/shards/{shard}.parquet"),
    output:
        "results/augment/{dataset}/table.parquet",
    log:
        "results/logs/augment/{dataset}/table.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    script:
        "../../scripts/concat_tables.py"
