# The corpus as bounded jobs (codescale.data.corpus, "parts"): one job per part of the input
# files (CORPUS_PARTS, about corpus.part_mb MiB each) writes every passing document of every
# language with its selection key; a small gather decides the per-language cap from those keys
# and sizes and writes the stats, the manifest and the selection the dedup jobs read.


rule corpus_part:
    """One part of the input files: filtered documents per language, uncapped, with stats."""
    input:
        lambda wildcards: corpus_part_files(wildcards.part),
    output:
        docs=expand(f"{RESULTS}/corpus/{{{{part}}}}/{{lang}}.parquet", lang=LANGS),
        stats=f"{RESULTS}/corpus/{{part}}/stats.json",
        manifest=f"{RESULTS}/corpus/{{part}}/manifest.json",
    log:
        "logs/corpus/{part}.log",
    benchmark:
        "logs/bench/corpus_part/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.stats),
        # A part is a function of the corpus section (whatever the source: a key that only one
        # source reads, columns or registry_sources, reruns it under any source), less what
        # only the gather reads (the cap) and what changes no artifact: the download cache and
        # corpus.part_mb (a new grouping changes the parts' inputs, which reruns them).
        settings=lambda wildcards: corpus_settings(
            "download_dir", "part_mb", "cap_bytes_per_language"
        ),
        # Paths relative to the working directory (see repo_path); the download cache and the
        # part size reach the job as $CODESCALE_DOWNLOAD_DIR and $CODESCALE_PART_MB.
        args=lambda wildcards: flags(
            source=CORPUS["source"],
            languages=LANGS,
            paths=corpus_paths(),
            registry_sources=CORPUS["registry_sources"] and registry_list(),
            column=CORPUS["source"] == "shards"
            and [f"{k}={v}" for k, v in CORPUS["columns"].items() if v is not None],
            language_map=[f"{k}={v}" for k, v in CORPUS["language_map"].items()],
            max_file_bytes=CORPUS["max_file_bytes"],
            fallback_encoding=CORPUS["fallback_encoding"] or "none",
            part=wildcards.part,
        ),
    shell:
        'codescale corpus {params.args} --download-dir "$CODESCALE_DOWNLOAD_DIR"'
        ' --part-mb "$CODESCALE_PART_MB" --out-dir {params.out} > {log} 2>&1'


rule corpus:
    """The per-language cap over every part (the smallest selection keys that fit), the stats
    and the manifest; reads only small per-document records of the parts."""
    input:
        docs=expand(rules.corpus_part.output.docs, part=CORPUS_PARTS),
        stats=expand(rules.corpus_part.output.stats, part=CORPUS_PARTS),
        manifest=expand(rules.corpus_part.output.manifest, part=CORPUS_PARTS),
    output:
        stats=f"{RESULTS}/corpus/stats.json",
        manifest=f"{RESULTS}/corpus/manifest.json",
        selection=f"{RESULTS}/corpus/selection.json",
    log:
        "logs/corpus.log",
    benchmark:
        "logs/bench/corpus/all.tsv"
    conda:
        "../envs/data.yaml"
    params:
        parts=lambda wildcards, input: [os.path.dirname(f) for f in input.stats],
        args=lambda wildcards: flags(
            languages=LANGS, cap_bytes_per_language=CORPUS["cap_bytes_per_language"]
        ),
    shell:
        "codescale corpus-gather --parts {params.parts} {params.args}"
        " --out-dir $(dirname {output.stats}) > {log} 2>&1"
