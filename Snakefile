# Speech emotion recognition workflow. Entry point: `snakemake --cores N` (see README.md).
# Target rules: audio, augment, features, train, evaluate, report, all (default).
import os
import sys

from snakemake.utils import min_version

from ser import locks

min_version("9.0")


# A config given with --configfile stands alone (schema defaults fill the rest); only a run
# without one reads the demo config, found beside this Snakefile whatever --directory says.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


# A run killed hard leaves .snakemake/locks: clear it when its owner is provably gone, else say
# what to run (ser.locks). Only the main process; jobs re-reading this file must not touch it.
MAIN_PROCESS = not (workflow.remote_exec or workflow.subprocess_exec)
if MAIN_PROCESS and "--unlock" not in sys.argv:
    message = locks.check(os.getcwd())
    if message:
        print(message, file=sys.stderr)


onstart:
    if MAIN_PROCESS:
        locks.record_owner(os.getcwd())


onsuccess:
    if MAIN_PROCESS:
        locks.clear_owner(os.getcwd())


onerror:
    if MAIN_PROCESS:
        locks.clear_owner(os.getcwd())


include: "workflow/rules/common.smk"
include: "workflow/rules/audio.smk"
include: "workflow/rules/augment.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        "results/report/index.html",
        [f"results/models/{d}/leaderboard.json" for d in plan.model_datasets],


rule audio:
    input:
        all_manifests(),


rule augment:
    input:
        all_augment_tables(),


rule features:
    input:
        all_feature_tables(),


rule train:
    input:
        all_fold_models,


rule evaluate:
    input:
        all_metrics(),
        all_cross_metrics(),
