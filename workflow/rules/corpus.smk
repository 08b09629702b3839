rule corpus:
    """Source code per language from the configured source, filtered, capped, with a manifest."""
    output:
        docs=expand(f"{RESULTS}/corpus/{{lang}}.parquet", lang=LANGS),
        stats=f"{RESULTS}/corpus/stats.json",
        manifest=f"{RESULTS}/corpus/manifest.json",
    log:
        "logs/corpus.log",
    params:
        out=lambda wildcards, output: os.path.dirname(output.stats),
        args=lambda wildcards: flags(
            source=CORPUS["source"],
            languages=LANGS,
            paths=[repo_path(p) for p in CORPUS["paths"]],
            registry_sources=CORPUS["registry_sources"],
            column=CORPUS["source"] == "shards"
            and [f"{k}={v}" for k, v in CORPUS["columns"].items()],
            language_map=CORPUS["source"] == "shards"
            and [f"{k}={v}" for k, v in CORPUS["language_map"].items()],
            cap_bytes_per_language=CORPUS["cap_bytes_per_language"],
            max_file_bytes=CORPUS["max_file_bytes"],
            fallback_encoding=CORPUS["fallback_encoding"] or "none",
            download_dir=CORPUS["download_dir"],
        ),
    shell:
        "codescale corpus {params.args} --out-dir {params.out} > {log} 2>&1"
