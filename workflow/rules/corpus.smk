rule corpus:
    """Source code per language from the configured source, filtered, capped, with a manifest."""
    input:
        corpus_inputs,
    output:
        docs=expand(f"{RESULTS}/corpus/{{lang}}.parquet", lang=LANGS),
        stats=f"{RESULTS}/corpus/stats.json",
        manifest=f"{RESULTS}/corpus/manifest.json",
    log:
        "logs/corpus.log",
    params:
        out=lambda wildcards, output: os.path.dirname(output.stats),
        # The corpus is a function of its config section, whatever the source: a key that only
        # one source reads (columns, registry_sources) reruns it under any source.
        settings=lambda wildcards: corpus_settings(),
        # Everything that changes the corpus; paths relative to the working directory (see
        # repo_path). The download cache changes nothing: $CODESCALE_DOWNLOAD_DIR (common.smk).
        args=lambda wildcards: flags(
            source=CORPUS["source"],
            languages=LANGS,
            paths=corpus_paths(),
            registry_sources=CORPUS["registry_sources"] and registry_list(),
            column=CORPUS["source"] == "shards"
            and [f"{k}={v}" for k, v in CORPUS["columns"].items() if v is not None],
            language_map=[f"{k}={v}" for k, v in CORPUS["language_map"].items()],
            cap_bytes_per_language=CORPUS["cap_bytes_per_language"],
            max_file_bytes=CORPUS["max_file_bytes"],
            fallback_encoding=CORPUS["fallback_encoding"] or "none",
        ),
    shell:
        "codescale corpus {params.args} --download-dir \"$CODESCALE_DOWNLOAD_DIR\""
        " --out-dir {params.out} > {log} 2>&1"
