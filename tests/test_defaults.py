"""The config schema is the one place defaults live (issue #14), and it ships with the package.

- Every `codescale <stage>` option that sets a config key (the key's `x-cli` annotation in
  src/codescale/schemas/config.schema.yaml, "command --option") defaults to the key's schema
  default: the command line and the workflow cannot disagree. An annotated option that a stage
  does not define fails too.
- Stages check a value's range by the schema's rule (codescale.config.check), so a value the
  schema accepts is never rejected by a stage, and the reverse.
- A wheel install (not editable, outside the checkout) finds the schema as package data and
  validates a config.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, checkout_copy

from codescale import config as cs_config
from codescale.cli import COMMANDS, _entry
from codescale.errors import CodescaleError

CLI = cs_config.cli_options()


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"codescale {command}")
    _entry(COMMANDS[command][0], "configure")(parser)
    return parser


def _option_default(parser: argparse.ArgumentParser, option: str):
    for action in parser._actions:
        if option in action.option_strings:
            return action.default
    raise KeyError(option)


def _same(a, b) -> bool:
    """Equal, and not merely by bool == int (False == 0)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def test_the_schema_maps_options_of_every_kind_of_stage():
    """The mapping is real: the keys the issue names, and options of data, training,
    evaluation and fitting stages."""
    assert ("train", "--checkpoint-every") in CLI["train.checkpoint_every"]
    assert ("train", "--max-val-tokens") in CLI["train.max_val_tokens"]
    assert ("split-train", "--containment-threshold") in CLI["split.containment_threshold"]
    commands = {c for pairs in CLI.values() for c, _ in pairs}
    assert {"corpus", "dedup", "split", "tokenizer", "pairs", "train", "evaluate"} <= commands
    assert {"execute", "fit", "allocate", "mixture"} <= commands
    assert sum(len(v) for v in CLI.values()) >= 80


def test_every_mapped_option_defaults_to_the_schema_default():
    parsers = {c: _parser(c) for c in sorted({c for v in CLI.values() for c, _ in v})}
    missing, wrong = [], []
    for key, pairs in CLI.items():
        want = cs_config.default(key)
        for command, option in pairs:
            try:
                got = _option_default(parsers[command], option)
            except KeyError:
                missing.append(f"codescale {command} {option} ({key})")
                continue
            if not _same(got, want):
                wrong.append(f"codescale {command} {option}: {got!r}, schema {key}: {want!r}")
    assert not missing, "x-cli names options the stage does not define: " + "; ".join(missing)
    assert not wrong, "CLI defaults differ from the schema: " + "; ".join(wrong)


def test_a_drifted_default_or_a_missing_option_is_caught(monkeypatch):
    """The check above can fail: a stage option with another default, or an annotation naming
    an option that does not exist, is reported by name."""
    parser = _parser("train")
    assert _option_default(parser, "--checkpoint-every") == cs_config.default(
        "train.checkpoint_every"
    )
    parser.set_defaults(checkpoint_every=1000)  # what the CLI said before issue #14
    assert not _same(_option_default(parser, "--checkpoint-every"), 200)
    with pytest.raises(KeyError):
        _option_default(parser, "--no-such-option")
    with pytest.raises(CodescaleError, match="is not 'command --option'"):
        cs_config.cli_options({"properties": {"seed": {"x-cli": ["train"]}}})


def test_unmapped_keys_are_the_known_workflow_only_ones():
    """Keys with a default but no x-cli: either no stage option sets them (the workflow
    alone reads them) or the option means something else (listed here, with why). A new
    key with a stage option must get an x-cli, or be added here with its reason."""
    known = {
        "corpus.download_dir",  # an environment variable (CODESCALE_DOWNLOAD_DIR), no rerun
        "corpus.columns.content",
        "corpus.columns.language",
        "corpus.columns.repo",
        "corpus.columns.path",
        "corpus.columns.id",
        "corpus.language_map",  # LOGICAL=NAME lists
        "parallel.path",
        "parallel.mbxp",  # fetch-parallel's env var; parallel-tasks --no-mbxp
        "train.seq_len",  # mixture --seq-len, required (the workflow passes this key); train
        # reads the plan's (issue #14)
        "train.threads",  # the job's Snakemake/Slurm threads; train --threads None = torch's
        "evaluate.translation_studies",
        "execute.enabled",
        "execute.studies",
        "execute.languages",  # null = the study's languages, resolved by the workflow
        "studies.per_language.enabled",
        "studies.per_language.languages",
        "studies.synergy.enabled",
        "studies.synergy.languages",
        "studies.pairing.enabled",
        "studies.pairing.formats",
        "studies.pairing.parallel_share",
        "studies.allocation.enabled",
        "studies.allocation.seeds",
    }
    defaults = set()

    def walk(node, prefix):
        for name, sub in node.get("properties", {}).items():
            if "properties" in sub:
                walk(sub, f"{prefix}{name}.")
            elif "default" in sub:
                defaults.add(f"{prefix}{name}")

    walk(cs_config.load_schema(), "")
    # `codescale plan` reads these sections from the config it is given
    sections = ("cluster.", "plan.", "slurm.")
    unmapped = {k for k in defaults - set(CLI) if not k.startswith(sections)}
    assert not unmapped - known, (
        f"config keys with a default but no x-cli: {sorted(unmapped - known)}; give each an "
        "x-cli naming the `codescale <stage>` options that set it, or list it in this test "
        "with the reason no option does"
    )
    assert not known - unmapped, f"listed here but mapped or gone: {sorted(known - unmapped)}"


def test_dedup_threshold_one_rule_in_the_schema_and_the_stages(tmp_path):
    """dedup.threshold is in (0, 1): the schema rejects 1.0 as the stages do, and the stages'
    message quotes the schema's rule."""
    from codescale.data.dedup import dedup_table
    from codescale.data.split import build_index

    for bad in (0.0, 1.0):
        config = {"languages": ["python"], "studies": {}, "dedup": {"threshold": bad}}
        with pytest.raises(CodescaleError, match="dedup.threshold"):
            cs_config.validate(config)
        with pytest.raises(CodescaleError, match=r"--threshold .*dedup\.threshold"):
            cs_config.check("dedup.threshold", bad, "--threshold")
        with pytest.raises(CodescaleError, match=r"--threshold .*dedup\.threshold"):
            build_index({}, [], tmp_path, threshold=bad)
    with pytest.raises(CodescaleError, match=r"--ngram 65 .*maximum of 64"):
        dedup_table(None, ngram=65)  # checked before the table is read
    assert cs_config.check("dedup.threshold", 0.99) == 0.99
    cfg = cs_config.validate({"languages": ["python"], "studies": {}})
    assert cfg["split"]["containment_threshold"] == 0.7
    cfg = cs_config.validate(
        {"languages": ["python"], "studies": {}, "split": {"containment_threshold": 1.0}}
    )
    assert cfg["split"]["containment_threshold"] == 1.0  # containment 1: every shingle


def test_default_and_check_name_an_unknown_key():
    with pytest.raises(CodescaleError, match="train has no key 'checkpoint_evry'"):
        cs_config.default("train.checkpoint_evry")
    with pytest.raises(CodescaleError, match="has no default"):
        cs_config.default("languages")


@pytest.mark.slow
def test_a_wheel_install_validates_a_config(tmp_path):
    """`pip wheel` + `pip install --no-deps` into a fresh venv (system site packages of this
    venv's Python for the dependencies): the schema comes from the wheel, not the checkout."""
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*cmd, cwd=tmp_path):
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return proc.stdout

    source = checkout_copy(tmp_path / "checkout")  # the build writes build/ and egg-info
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        str(source), "-w", str(wheels))  # fmt: skip
    (wheel,) = wheels.glob("codescale-*.whl")
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    # The dependencies from this venv's site-packages, after the new venv's own: a .pth line
    # adds the folder but runs none of its .pth files, so the editable install's path to
    # src/ is not added.
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(site.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
        "--no-index", "-q", str(wheel))  # fmt: skip
    smoke = REPO / "config" / "smoke.yaml"
    code = (
        "import codescale, sys; from codescale import config; "
        f"cfg = config.load({str(smoke)!r}); "
        f"assert {str(REPO / 'src')!r} not in sys.path, sys.path; "
        "print(codescale.__file__); print(cfg['dedup']['threshold']); "
        "print(config.default('train.checkpoint_every')); "
        "from codescale.plan import data_plan_text; "
        "print('no-scaling' if 'no DATA_SCALING' in data_plan_text(cfg) else 'scaling')"
    )
    where, threshold, every, scaling = run(str(python), "-c", code).split()
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the checkout
    assert float(threshold) == 0.7 and int(every) == 200
    assert scaling == "scaling"  # the data plan's coefficients are package code, not slurm.smk
    assert not (venv / "workflow").exists()


def test_split_containment_has_its_own_threshold(tmp_path):
    """split.containment_threshold, not dedup.threshold, decides reference removal, in the
    one-job split and in split-train (the rule's command): a training file holding 63% of a
    held-out program's shingles stays at the default 0.7 whatever the Jaccard threshold, and
    goes at 0.5 with the Jaccard threshold at its default."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from test_split import base_docs, corpus, program

    from codescale.cli import main
    from codescale.data.split import split_table

    docs = base_docs(n_repos=16, per_repo=4)
    first, _, _ = split_table(corpus(docs), 0.1, 0.1, seed=0)
    repo = sorted(set(first["train"].column("repo").to_pylist()))[0]
    reference = program(999_999, lines=25)
    part = "\n".join(reference.splitlines()[:16])  # 16 of its 27 lines
    partial = f"{repo}/partial.go"
    docs.append((repo, partial, program(70_000, lines=50) + "\n" + part + "\n" + program(71_000)))
    table = corpus(docs)
    refs = ([reference], ["heldout.parquet#0"])

    def removed(**thresholds) -> list:
        _, rm, stats = split_table(table, 0.1, 0.1, seed=0, references=refs, **thresholds)
        assert stats["params"]["containment_threshold"] == thresholds["containment_threshold"]
        return rm.to_pylist()

    assert removed(threshold=0.4, containment_threshold=0.7) == []
    (row,) = removed(threshold=0.7, containment_threshold=0.5)
    assert (row["doc_id"], row["reason"]) == (partial, "reference")
    assert row["score"] == pytest.approx(0.629, abs=0.01)  # containment, between 0.5 and 0.7

    docs_path, heldout = tmp_path / "p00000.parquet", tmp_path / "heldout.parquet"
    pq.write_table(table, docs_path)
    pq.write_table(pa.table({"content": [reference]}), heldout)
    repos, index = tmp_path / "repos.parquet", tmp_path / "index"
    fractions = ["--validation", "0.1", "--test", "0.1"]
    assert main(["split-assign", "--input", str(docs_path), "--lang", "go",
                 "--out", str(repos), *fractions]) == 0  # fmt: skip
    evals = {s: str(tmp_path / f"{s}.parquet") for s in ("validation", "test")}
    assert main(["split-eval", "--input", str(docs_path), "--repos", str(repos),
                 "--validation-out", evals["validation"],
                 "--test-out", evals["test"]]) == 0  # fmt: skip
    assert main(["split-index", "--validation", evals["validation"], "--test", evals["test"],
                 "--decontaminate-against", str(heldout),
                 "--out-dir", str(index)]) == 0  # fmt: skip

    def split_train(*extra: str) -> list:
        out = tmp_path / f"train{len(extra)}"
        assert main(["split-train", "--input", str(docs_path), "--repos", str(repos),
                     "--index", str(index), "--out", f"{out}.parquet",
                     "--removed", f"{out}_removed.parquet", "--stats", f"{out}.json",
                     *extra]) == 0  # fmt: skip
        return pq.read_table(f"{out}_removed.parquet").to_pylist()

    assert [r for r in split_train() if r["reason"] == "reference"] == []
    hits = [r for r in split_train("--containment-threshold", "0.5") if r["reason"] == "reference"]
    assert [r["doc_id"] for r in hits] == [partial]
    assert main(["split-train", "--input", str(docs_path), "--repos", str(repos),
                 "--index", str(index), "--out", "x", "--removed", "y", "--stats", "z",
                 "--containment-threshold", "1.5"]) == 2  # fmt: skip
