"""The cost planner: per-run cost, Slurm resources that scale sensibly, totals, the CLI."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from codescale import cli, plan
from codescale.errors import CodescaleError
from codescale.model import presets

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"gpus": True, "gpus_per_node": 8, "max_gpus": 64, "gpu_memory_gb": 80,
         "max_runtime_h": 48, "safety_factor": 1.5, "overhead_min": 10}  # fmt: skip


@dataclass
class FakeRun:
    """The four fields of codescale.study.Run the planner reads (real Runs are tested below)."""

    name: str
    study: str
    size: str
    tokens: int


def test_run_cost_is_flops_over_rate() -> None:
    cost = plan.run_cost("0.1B", 2 * 10**9, 32768, 2048, mfu=0.4, peak_tflops=989)
    flops = presets.train_flops("0.1B", 32768, 2048, 2 * 10**9)
    assert cost["flops"] == flops
    assert cost["gpu_hours"] == pytest.approx(flops / (0.4 * 989e12) / 3600)
    assert 1.0 < cost["gpu_hours"] < 1.5  # ~1.2 H800-hours for 0.1B on 2B tokens
    with pytest.raises(CodescaleError, match="mfu"):
        plan.run_cost("0.1B", 10, 100, 8, mfu=0, peak_tflops=989)


def test_tiny_runs_are_cpu_only() -> None:
    res = plan.train_resources("20K", 10**6, 4096, 128, SETTINGS)
    assert res["gpus"] == 0 and res["strategy"] == "cpu" and res["nodes"] == 1
    assert res["cpu_job_hours"] > 0 and res["booked_gpu_hours"] == 0
    # cluster.gpus false forces CPU even for a GPU-size model
    assert plan.train_resources("10M", 10**8, 4096, 256, {**SETTINGS, "gpus": False})["gpus"] == 0


def test_small_model_gets_one_gpu_and_big_model_is_sharded() -> None:
    small = plan.train_resources("0.1B", 2 * 10**9, 32768, 2048, SETTINGS)
    assert (small["gpus"], small["nodes"], small["strategy"]) == (1, 1, "ddp")
    assert small["runtime"] <= 48 * 60
    big = plan.train_resources("14B", 2 * 10**9, 32768, 2048, SETTINGS)
    states, _ = plan.memory_bytes("14B", 32768, 2048)
    assert states > 80e9  # 16 bytes x 14.3B params cannot sit on one 80 GB card
    assert big["gpus"] > 1 and big["strategy"] == "fsdp"
    # a bigger card needs fewer GPUs for memory
    h200 = plan.train_resources("14B", 10**8, 32768, 2048, {**SETTINGS, "gpu_memory_gb": 141})
    h800 = plan.train_resources("14B", 10**8, 32768, 2048, SETTINGS)
    assert h200["gpus"] <= h800["gpus"]


def test_more_tokens_more_gpus_and_nodes_within_time_target() -> None:
    previous = 0
    for tokens in (2e9, 16e9, 64e9, 400e9):
        res = plan.train_resources("3.1B", int(tokens), 32768, 2048, SETTINGS)
        assert res["gpus"] >= previous
        previous = res["gpus"]
        assert res["nodes"] == -(-res["gpus"] // 8)
        assert res["tasks"] == res["gpus"] and res["tasks_per_node"] == res["gpus_per_node"]
        assert res["runtime"] <= 48 * 60
        assert res["gpus"] in (1, 2, 4, 8) or res["gpus"] % 8 == 0
        # the job's booked GPU time covers the estimate x safety factor
        assert res["booked_gpu_hours"] >= res["gpu_hours"] * 1.5
    assert previous > 8  # 3.1B on 400B tokens: multi-node


def test_time_target_capped_by_max_gpus_splits_into_segments() -> None:
    res = plan.train_resources("7B", 10**12, 32768, 2048, {**SETTINGS, "max_gpus": 8})
    assert res["gpus"] == 8 and res["segments"] > 1 and res["runtime"] <= 48 * 60
    with pytest.raises(CodescaleError, match="max_gpus"):
        plan.train_resources("14B", 10**9, 32768, 2048, {**SETTINGS, "max_gpus": 2})


def test_summary_totals_equal_sum_of_runs() -> None:
    runs = [
        FakeRun("mono/python/0.1B_d2B", "mono", "0.1B", 2 * 10**9),
        FakeRun("mono/python/0.2B_d4B", "mono", "0.2B", 4 * 10**9),
        FakeRun("synergy/python+go/1.3B_d64B", "synergy", "1.3B", 128 * 10**9),
        FakeRun("mono/go/20K_d1M", "mono", "20K", 10**6),
    ]
    rows = plan.summarise(plan.plan_runs(runs, 32768, 2048, {**SETTINGS, "mfu": 0.4}))
    assert [r["study"] for r in rows] == ["mono", "synergy", "total"]
    costs = [plan.run_cost(r.size, r.tokens, 32768, 2048, 0.4, 989) for r in runs]
    total = rows[-1]
    assert total["runs"] == 4
    assert total["flops"] == pytest.approx(sum(c["flops"] for c in costs), rel=1e-12)
    assert total["gpu_hours"] == pytest.approx(sum(c["gpu_hours"] for c in costs), rel=1e-12)
    assert rows[0]["flops"] + rows[1]["flops"] == pytest.approx(total["flops"], rel=1e-12)
    text = plan.format_table(rows, card="H800")
    assert "H800-hours" in text and text.splitlines()[-1].startswith("total")


def test_paper_grid_is_tens_of_thousands_of_h800_hours() -> None:
    from codescale.study import expand

    grid = {
        "languages": ["python", "java", "javascript", "typescript", "csharp", "go", "rust"],
        "studies": {
            "per_language": {
                "sizes": [
                    "0.1B",
                    "0.2B",
                    "0.4B",
                    "0.6B",
                    "1.1B",
                    "1.3B",
                    "1.6B",
                    "2.0B",
                    "2.4B",
                    "3.1B",
                ],  # fmt: skip
                "tokens": [2e9, 4e9, 8e9, 16e9, 32e9, 64e9],
            }
        },
    }
    runs = expand(grid)
    assert len(runs) == 420
    total = plan.summarise(plan.plan_runs(runs, 32768, 2048, {**SETTINGS, "mfu": 0.4}))[-1]
    assert 10_000 < total["gpu_hours"] < 100_000


def test_cli_prints_table_and_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "plan.csv"
    args = ["plan", "--config", str(ROOT / "config" / "paper.yaml"), "--out", str(out)]
    assert cli.main([*args, "--card", "H800", "--mfu", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "MFU 0.5" in printed and "total" in printed and "H800-hours" in printed
    assert re.search(r"^7B\s+6.4e\+10\s+3\s+48\s+6\s+fsdp\s", printed, re.M)  # the layout table
    rows = list(csv.DictReader(out.open()))
    assert rows and {"run", "study", "size", "tokens", "flops", "gpus", "runtime"} <= set(rows[0])
    assert cli.main(["plan", "--config", str(ROOT / "config" / "paper.yaml"), "--card", "TPU"]) == 2
    assert "unknown" in capsys.readouterr().err
    # the global option before the stage (the stage's own options are still known)
    assert cli.main(["-v", *args, "--card", "H800"]) == 0


def paper_rows(**slurm) -> list[dict]:
    from codescale import config, study

    cfg = config.load(ROOT / "config" / "paper.yaml")
    cfg["slurm"] = {**cfg["slurm"], **slurm}
    return plan.plan_study(cfg, study.expand(cfg))


@pytest.mark.parametrize("limit_h", [48, 24, 4])
def test_paper_jobs_fit_the_partition_limit_and_gpu_memory(limit_h: float) -> None:
    """Every job of config/paper.yaml, at every attempt (the plan's runtime does not grow with
    attempts), asks for at most slurm.max_runtime_h, and every run's planned peak per GPU fits
    cluster.gpu_memory_gb; runs longer than one job get segments and the retries to cover them."""
    rows = paper_rows(max_runtime_h=limit_h)
    assert len(rows) == 495
    for row in rows:
        assert row["job_runtime"] <= limit_h * 60, row
        assert (
            row["runtime"] + 2 * row["eval_runtime"] + row["mixture_runtime"] == row["job_runtime"]
        )
        assert row["memory_gb"] <= 80 * plan.GPU_MEMORY_USABLE, row
        assert row["retries"] == row["segments"] - 1 + 3
        # segments x the useful part of each job cover the planned training time
        useful = row["runtime"] - 10 - plan.SETTINGS_DEFAULTS["stop_grace_s"] / 60
        planned = row["gpu_hours"] * 1.5 * 60 / row["gpus"]
        assert row["segments"] * useful >= planned * 0.999, row
        local = row["batch_size"] // row["gpus"]
        assert row["batch_size"] % row["gpus"] == 0
        assert row["micro_batch"] * row["grad_accum"] == local
    assert any(row["segments"] > 1 for row in rows)
    assert {"ddp", "fsdp"} <= {row["strategy"] for row in rows}


def test_memory_plan_prefers_ddp_then_recomputation_then_sharding() -> None:
    # 0.2B fits one 80 GB GPU under DDP with a large micro-batch and no recomputation
    small = plan.memory_plan("0.2B", 32768, 2048, 256, 1, 80)
    assert small["strategy"] == "ddp" and not small["activation_checkpointing"]
    assert small["micro_batch"] * small["grad_accum"] == 256 and small["micro_batch"] > 1
    # 7B's replicated states (16 B/param, ~108 GB) cannot fit: sharded over 8 GPUs
    big = plan.memory_plan("7B", 32768, 2048, 2432, 8, 80)
    assert big["strategy"] == "fsdp" and big["memory_gb"] <= 72
    assert plan.memory_plan("7B", 32768, 2048, 2432, 1, 80) is None
    # the memory model: sharding divides the states, checkpointing shrinks the activations
    ddp = plan.train_memory_gb("1.3B", 32768, 2048, 4, "ddp", 8, False)
    fsdp = plan.train_memory_gb("1.3B", 32768, 2048, 4, "fsdp", 8, False)
    ckpt = plan.train_memory_gb("1.3B", 32768, 2048, 4, "ddp", 8, True)
    assert fsdp < ddp and ckpt < ddp
    _, total = presets.param_counts("1.3B", 32768)
    shape = presets.shape_of("1.3B")
    block = (total - 2 * 32768 * shape.d_model) / shape.n_layers
    gathered = 2 * 8 * max(block, 32768 * shape.d_model)  # one unit's params + grads in flight
    assert ddp - fsdp == pytest.approx((16 * total * 7 / 8 - gathered) / 1e9, rel=1e-9)
    with pytest.raises(CodescaleError, match="strategy"):
        plan.train_memory_gb("1.3B", 32768, 2048, 4, "zero3", 8, False)


def test_a_run_that_fits_nowhere_names_the_size() -> None:
    with pytest.raises(CodescaleError, match="14B .*does not fit 2 GPUs"):
        plan.train_resources("14B", 10**9, 32768, 2048, {**SETTINGS, "max_gpus": 2})
    with pytest.raises(CodescaleError, match="no training time"):
        plan.train_resources("0.1B", 10**9, 32768, 2048, {**SETTINGS, "max_runtime_h": 0.1})


def test_layout_table_shows_each_size_and_budget_once() -> None:
    rows = paper_rows()
    text = plan.format_layout_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["size", "D", "runs", "GPUs", "nodes", "strategy"]
    assert len(lines) == 2 + len({(r["size"], r["tokens"]) for r in rows})
    assert any(line.split()[0] == "7B" and "fsdp" in line for line in lines)


def test_one_card_table_for_the_planner_and_the_trainer() -> None:
    """codescale.hardware is the one table: device names match their variant first, and the
    schema's cluster defaults are its default card's numbers."""
    from codescale import hardware
    from codescale.config import section_defaults

    assert hardware.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert hardware.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert hardware.card_of("NVIDIA H200").memory_gb == 141.0
    assert hardware.peak_flops("Tesla T4") is None
    cluster = section_defaults("cluster")
    card = hardware.CARDS[cluster["card"]]
    assert (cluster["peak_tflops"], cluster["gpu_memory_gb"]) == (card.peak_tflops, card.memory_gb)
