rule figures:
    """The paper's Figures 1-6 and Tables 1-3, ours beside the published numbers."""
    input:
        table=rules.collect.output.parquet,
        fits=figure_fits,
    output:
        figures=[
            report(
                f"{RESULTS}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in FIGURES
        ],
        pdfs=[f"{RESULTS}/figures/{name}.pdf" for name in FIGURES],
        tables=[
            report(
                f"{RESULTS}/tables/{name}.csv",
                caption=f"../report/{name}.rst",
                category="Tables",
            )
            for name in TABLES
        ],
        markdown=[f"{RESULTS}/tables/{name}.md" for name in TABLES],
        manifest=f"{RESULTS}/figures/manifest.json",
    log:
        "logs/figures.log",
    conda:
        "../envs/laws.yaml"
    params:
        fits=lambda wildcards, input: os.path.dirname(input.fits[0]),
        figures=lambda wildcards, output: os.path.dirname(output.manifest),
        tables=lambda wildcards, output: os.path.dirname(output.tables[0]),
    shell:
        "codescale figures --table {input.table} --fits-dir {params.fits}"
        " --out-dir {params.figures} --tables-dir {params.tables}"
        " --manifest {output.manifest} > {log} 2>&1"


rule plan:
    """FLOPs and GPU-hours of every run of the study (also printed at the top of a dry run)."""
    output:
        f"{RESULTS}/plan.csv",
    log:
        "logs/plan.log",
    conda:
        "../envs/data.yaml"
    params:
        # What the plan reads, as JSON; a function, so `{src}`-style templates elsewhere in the
        # config are not taken for wildcards, and no setting the plan ignores reruns it.
        config_json=lambda wildcards: json.dumps(plan_config(), sort_keys=True),
    shell:
        "printf '%s' {params.config_json:q} | codescale plan --config - --out {output} > {log} 2>&1"
