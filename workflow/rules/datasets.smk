# Datasets that skip the audio stage: ready-made feature tables and merged corpora (ser.stages).


rule table_dataset:
    input:
        lambda wc: plan.ds(wc.dataset)["path"],
    output:
        features="results/features/{dataset}/table.parquet",
        manifest="results/manifests/{dataset}.parquet",
    log:
        "results/logs/table/{dataset}.log",
    wildcard_constraints:
        dataset=TABLE_DS,
    conda:
        CONDA_ENV
    params:
        ds=lambda wc: plan.ds(wc.dataset),
        emotions=config.get("emotions"),
    script:
        "../../scripts/table_dataset.py"


rule merge_features:
    input:
        lambda wc: [
            f"results/features/{s}/{wc.fs}.parquet"
            for s in plan.ds(wc.dataset)["sources"]
        ],
    output:
        "results/features/{dataset}/{fs}.parquet",
    log:
        "results/logs/merge/{dataset}/{fs}.log",
    wildcard_constraints:
        dataset=MERGE_DS,
    conda:
        CONDA_ENV
    params:
        ds=lambda wc: plan.ds(wc.dataset),
        emotions=config.get("emotions"),
    script:
        "../../scripts/merge.py"


rule merge_manifest:
    input:
        lambda wc: [manifest_path(s) for s in plan.ds(wc.dataset)["sources"]],
    output:
        "results/manifests/{dataset}.parquet",
    log:
        "results/logs/merge/{dataset}/manifest.log",
    wildcard_constraints:
        dataset=MERGE_DS,
    conda:
        CONDA_ENV
    params:
        ds=lambda wc: plan.ds(wc.dataset),
        emotions=config.get("emotions"),
    script:
        "../../scripts/merge.py"
