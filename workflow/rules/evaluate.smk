# Evaluation per (dataset, model), EDA per corpus, and the report (ser.evaluate, ser.eda, ser.report).


rule evaluate_model:
    input:
        predictions=fold_paths(
            "results/eval/{dataset}/{model}/folds/fold{fold}.parquet"
        ),
        bundles=fold_paths("results/models/{dataset}/{model}/fold{fold}"),
        splits="results/splits/{dataset}.parquet",
        features=model_feature_tables,
        ood_other=lambda wc: [
            f"results/cross/{a}__{b}/{m}/folds/fold0.parquet"
            for a, b, m in plan.cross
            if a == wc.dataset and m == wc.model
        ],
    output:
        metrics="results/eval/{dataset}/{model}/metrics.json",
        predictions="results/eval/{dataset}/{model}/predictions.parquet",
        confusion_table="results/eval/{dataset}/{model}/confusion.csv",
        snr_table="results/eval/{dataset}/{model}/snr.csv",
        conditions_table="results/eval/{dataset}/{model}/conditions.csv",
        report_txt="results/eval/{dataset}/{model}/classification_report.txt",
        confusion=report(
            "results/eval/{dataset}/{model}/confusion.png",
            caption="../report/confusion.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        confusion_norm=report(
            "results/eval/{dataset}/{model}/confusion_norm.png",
            caption="../report/confusion.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        snr=report(
            "results/eval/{dataset}/{model}/snr.png",
            caption="../report/snr.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        conditions=report(
            "results/eval/{dataset}/{model}/conditions.png",
            caption="../report/conditions.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        curves=report(
            "results/eval/{dataset}/{model}/curves.png",
            caption="../report/curves.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        reliability=report(
            "results/eval/{dataset}/{model}/reliability.png",
            caption="../report/reliability.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        per_class=report(
            "results/eval/{dataset}/{model}/per_class.png",
            caption="../report/per_class.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
        per_speaker=report(
            "results/eval/{dataset}/{model}/per_speaker.png",
            caption="../report/per_speaker.rst",
            category="{dataset}",
            subcategory="{model}",
        ),
    log:
        "results/logs/evaluate/{dataset}/{model}.log",
    conda:
        CONDA_ENV
    params:
        corpus=lambda wc: plan.corpus_info(wc.dataset),
    script:
        "../../scripts/evaluate.py"


rule evaluate_cross:
    input:
        predictions="results/cross/{train}__{test}/{model}/folds/fold0.parquet",
    output:
        metrics="results/cross/{train}__{test}/{model}/metrics.json",
        confusion=report(
            "results/cross/{train}__{test}/{model}/confusion.png",
            caption="../report/confusion.rst",
            category="cross-corpus",
            subcategory="{train} to {test}: {model}",
        ),
    log:
        "results/logs/evaluate/cross/{train}__{test}/{model}.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/evaluate.py"


rule eda:
    input:
        manifest="results/manifests/{dataset}.parquet",
    output:
        summary="results/eda/{dataset}/eda.json",
        figures=report(
            directory("results/eda/{dataset}/figures"),
            patterns=["{name}.png"],
            caption="../report/eda.rst",
            category="{dataset}",
            subcategory="EDA",
        ),
    log:
        "results/logs/eda/{dataset}.log",
    wildcard_constraints:
        dataset=AUDIO_DS,
    conda:
        CONDA_ENV
    script:
        "../../scripts/eda.py"


rule report:
    input:
        metrics=all_metrics(),
        cross=all_cross_metrics(),
        eda=(
            [f"results/eda/{d}/eda.json" for d in plan.audio_datasets]
            if config["report"]["eda"]
            else []
        ),
    output:
        html=report(
            "results/report/index.html",
            caption="../report/leaderboard.rst",
            category="Report",
        ),
        csv="results/report/leaderboard.csv",
        md="results/report/leaderboard.md",
    log:
        "results/logs/report.log",
    conda:
        CONDA_ENV
    params:
        title=config["report"]["title"],
        config=config,
    script:
        "../../scripts/report.py"


rule model_choice:
    input:
        metrics=lambda wc: [
            f"results/eval/{d}/{m}/metrics.json"
            for d, m in plan.pairs
            if d == wc.dataset
        ],
        final=lambda wc: [
            f"results/models/{d}/{m}/final"
            for d, m in plan.final_pairs
            if d == wc.dataset
        ],
    output:
        "results/models/{dataset}/leaderboard.json",
    log:
        "results/logs/model_choice/{dataset}.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/model_choice.py"
