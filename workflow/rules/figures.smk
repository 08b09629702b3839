FIGURES = [
    "fig1_overview",
    "fig2_per_language",
    "fig3_translation_unseen",
    "fig4_translation_directions",
    "fig5_allocation",
    "fig6_uniform_vs_optimised",
    "table1_synergy",
]
TABLES = [
    "table1_synergy",
    "table2_translation_directions",
    "table2_translation_laws",
    "table3_multipl_e",
    "fits_per_language",
]


def figure_inputs(wildcards):
    files = [rules.collect.output.parquet, *FITS]
    if ALLOC_STUDY.get("enabled", bool(ALLOC_STUDY)):
        files.append(ALLOCATION)
    return files


rule figures:
    """The paper's Figures 1-6 and Tables 1-3, ours beside the published numbers."""
    input:
        figure_inputs,
    output:
        [
            report(
                f"{RESULTS}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in FIGURES
        ],
        [f"{RESULTS}/figures/{name}.pdf" for name in FIGURES],
        [
            report(
                f"{RESULTS}/tables/{name}.csv",
                caption=f"../report/{name}.rst",
                category="Tables",
            )
            for name in TABLES
        ],
        [f"{RESULTS}/tables/{name}.md" for name in TABLES],
        manifest=f"{RESULTS}/figures/manifest.json",
    log:
        "logs/figures.log",
    shell:
        "codescale figures --table {input[0]} --fits-dir {RESULTS}/fits"
        " --out-dir {RESULTS}/figures --tables-dir {RESULTS}/tables"
        " --manifest {output.manifest} > {log} 2>&1"


rule plan:
    """FLOPs and GPU-hours of every run of the study (also printed at the top of a dry run)."""
    output:
        f"{RESULTS}/plan.csv",
    params:
        config_json=json.dumps(config, sort_keys=True),
    log:
        "logs/plan.log",
    shell:
        "printf '%s' {params.config_json:q} | codescale plan --config - --out {output} > {log} 2>&1"
