"""Config validation: a wrong key, type or value fails at once, naming the key."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codescale import config as cs_config
from codescale import study
from codescale.errors import CodescaleError

REPO = Path(__file__).resolve().parents[1]


def smoke() -> dict:
    return yaml.safe_load((REPO / "config/smoke.yaml").read_text())


@pytest.mark.parametrize("name", ["smoke.yaml", "config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = cs_config.load(REPO / "config" / name)
    assert cfg["dedup"]["threshold"] == 0.7  # a default filled in from the schema
    assert study.expand(cfg)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"dedup": {"treshold": 0.5}}, "config error at 'dedup': unknown key(s) 'treshold'"),
        ({"dedup": {"threshold": 1.5}}, "config error at 'dedup.threshold': 1.5 is greater"),
        ({"tokenizer": {"vocab_size": "big"}}, "config error at 'tokenizer.vocab_size'"),
        ({"languages": ["python", "cobol"]}, "config error at 'languages.1'"),
        ({"studies": {"per_language": {"sizes": ["2K"]}}}, "'tokens' is a required property"),
        ({"corpus": {"source": "ftp"}}, "config error at 'corpus.source'"),
        ({"split": {"validation": 0.6, "test": 0.5}}, "validation + test fractions"),
        ({"studies": {"per_language": {"sizes": ["3Q"], "tokens": [1]}}}, "unknown model size"),
        ({"train": {"lr": {"2K": 0.01}}}, "no learning rate for size '5K', which 'studies.per"),
        ({"train": {"lr": {"2K": 0.01, "5K": 0.01, "3Q": 0.1}}}, "at 'train.lr.3Q': unknown"),
        ({"train": {"lr": {"2K": 0.01, "5K": -1}}}, "config error at 'train.lr.5K'"),
        ({"train": {"lr": "fast"}}, "config error at 'train.lr'"),
        # hardware, planner and scheduler settings apart (issue 14): an old config is told where
        ({"slurm": {"gpus": False}}, "at 'slurm.gpus': this key moved to 'cluster.gpus'"),
        ({"slurm": {"max_gpus": 8}}, "at 'slurm.max_gpus': this key moved to 'plan.max_gpus'"),
        ({"plan": {"card": "H100"}}, "at 'plan.card': this key moved to 'cluster.card'"),
        ({"slurm": {"gpus_per_node": 4, "cpu_tasks": 2}}, "(and slurm.gpus_per_node -> cluster"),
    ],
)
def test_bad_config_names_the_key(patch, message):
    cfg = smoke()
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    with pytest.raises(CodescaleError) as err:
        cs_config.validate(cfg)
    assert message in str(err.value)


def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path):
    bad = smoke()
    bad["dedup"] = {"threshold": 2}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "config error at 'dedup.threshold'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_run_names_are_stable_and_synergy_counts_match_the_paper():
    cfg = cs_config.load(REPO / "config/paper.yaml")
    runs = study.expand(cfg)
    names = [r.name for r in runs]
    assert "mono/python/0.2B_d8B" in names
    assert sum(r.study == "mono" for r in runs) == 420
    assert sum(r.study == "synergy" for r in runs) == 28  # 7 baselines + 21 pairs
    baseline = next(r for r in runs if r.name.startswith("synergy/go+go/"))
    assert baseline.tokens == 2 * baseline.unique_tokens["go"]
    assert study.fmt_count(1_500_000) == "1.5M" and study.fmt_count(64e9) == "64B"


def test_allocation_seeds_add_named_runs_with_their_own_seed():
    cfg = smoke()
    cfg["seed"] = 3
    cfg["studies"]["allocation"]["seeds"] = 2
    alloc = [r for r in study.expand(cs_config.validate(cfg)) if r.study == "allocation"]
    assert [(r.name, r.seed, r.strategy) for r in alloc] == [
        ("allocation/uniform/2K_d24K", 3, "uniform"),
        ("allocation/uniform/2K_d24K_s1", 4, "uniform"),
        ("allocation/optimised/2K_d24K", 3, "optimised"),
        ("allocation/optimised/2K_d24K_s1", 4, "optimised"),
    ]
    assert alloc[1].weights == alloc[0].weights and alloc[3].weights is None


def test_moved_keys_point_from_a_removed_key_to_an_existing_one():
    defaults = {s: cs_config.section_defaults(s) for s in ("cluster", "plan", "slurm")}
    for old, new in cs_config.MOVED_KEYS.items():
        (old_section, old_key), (new_section, new_key) = old.split("."), new.split(".")
        assert old_key not in defaults[old_section], old
        assert new_key in defaults[new_section], new
