# Speaker-independent folds, one training job per (dataset, model, fold), cross-corpus training.


rule splits:
    input:
        manifest="results/manifests/{dataset}.parquet",
    output:
        "results/splits/{dataset}.parquet",
    log:
        "results/logs/splits/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        split=lambda wc: plan.split_cfg(wc.dataset),
        emotions=config.get("emotions"),
    script:
        "../../scripts/splits.py"


rule train_fold:
    input:
        features=model_feature_tables,
        splits="results/splits/{dataset}.parquet",
        manifest="results/manifests/{dataset}.parquet",
    output:
        bundle=directory("results/models/{dataset}/{model}/fold{fold}"),
        predictions="results/eval/{dataset}/{model}/folds/fold{fold}.parquet",
    log:
        "results/logs/train/{dataset}/{model}/fold{fold}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=lambda wc: plan.gpu(wc.model),
    params:
        model=lambda wc: plan.model_spec(wc.model).to_dict(),
        split=lambda wc: plan.split_cfg(wc.dataset),
        train=config["train"],
        audio=config["audio"],
        emotions=config.get("emotions"),
        corpus=lambda wc: plan.corpus_info(wc.dataset),
    script:
        "../../scripts/train_fold.py"


rule train_final:
    input:
        features=model_feature_tables,
        manifest="results/manifests/{dataset}.parquet",
    output:
        bundle=directory("results/models/{dataset}/{model}/final"),
    log:
        "results/logs/train/{dataset}/{model}/final.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=lambda wc: plan.gpu(wc.model),
    params:
        model=lambda wc: plan.model_spec(wc.model).to_dict(),
        split=lambda wc: plan.split_cfg(wc.dataset),
        train=config["train"],
        audio=config["audio"],
        emotions=config.get("emotions"),
        corpus=lambda wc: plan.corpus_info(wc.dataset),
    script:
        "../../scripts/train_final.py"


rule cross_corpus:
    input:
        train=lambda wc: [
            f"results/features/{wc.train}/{fs}.parquet"
            for fs in plan.model_features(wc.model)
        ],
        test=lambda wc: [
            f"results/features/{wc.test}/{fs}.parquet"
            for fs in plan.model_features(wc.model)
        ],
    output:
        bundle=directory("results/cross/{train}__{test}/{model}/bundle"),
        predictions="results/cross/{train}__{test}/{model}/folds/fold0.parquet",
    log:
        "results/logs/cross/{train}__{test}/{model}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=lambda wc: plan.gpu(wc.model),
    params:
        model=lambda wc: plan.cross_spec(wc.model).to_dict(),
        train=config["train"],
        audio=config["audio"],
        emotions=config.get("emotions"),
    script:
        "../../scripts/cross_corpus.py"
