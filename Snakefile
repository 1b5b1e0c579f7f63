# Speech emotion recognition workflow. Entry point: `snakemake --cores N` (see README.md).
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/audio.smk"


rule all:
    input:
        all_manifests(),
    default_target: True


rule audio:
    input:
        all_manifests(),
