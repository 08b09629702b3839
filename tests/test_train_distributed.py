"""Training on several CPU ranks (gloo): DDP, gradient accumulation, FSDP2, preemption, segments.

The ranks are real processes started like torchrun starts them (once with torchrun itself, else
with the same environment variables set here, so that each rank's exit code and signals can be
checked one by one, as srun would deliver them). Corpus, tokenizer and mixture are the fixture of
test_train.py (real stdlib Python, 47 steps of 8 x 32 tokens at size 5K).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train import _train_args, _wait_for, corpus  # noqa: F401 (corpus is a fixture)

from codescale.cli import main
from codescale.errors import CodescaleError
from codescale.train.launch import EXIT_RESUBMIT, parse_end_time, resolve_ranks
from codescale.train.module import grad_accum_steps

EXTRA = ("--lr", "0.02", "--log-every", "4")
# Max abs weight difference allowed between runs that compute the same update with another fp32
# summation order, after 47 AdamW steps at lr 0.02 (Adam's normalisation amplifies rounding where
# gradients are near 0). Measured here: 1 process with k=2 or k=4 micro-batches vs k=1: 2.4e-4 and
# 8.0e-4; 2 ranks vs 1 process: 2.4e-4. A wrong gradient is far above it: a run on half the
# batch per step (what a rank whose gradients are not all-reduced follows) differs by 0.53.
TOL = 5e-3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(
    args: list[str], log_dir: Path, world: int = 2, env: dict | None = None, slurm: bool = False
) -> list:
    """Start `world` ranks of `codescale <args>` with the environment torchrun gives its workers,
    or (slurm=True) the one `srun --ntasks-per-node=<world>` gives its tasks on one node."""
    port = _free_port()
    procs = []
    log_dir.mkdir(parents=True, exist_ok=True)
    for rank in range(world):
        rank_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLURM_")},
            **(env or {}),
            "PYTHONUNBUFFERED": "1",
            "PYTHONFAULTHANDLER": "1",  # a rank killed with SIGABRT on timeout shows its stack
            "OMP_NUM_THREADS": "1",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
        if slurm:
            rank_env.update(
                SLURM_JOB_ID="4242",
                SLURM_JOB_NAME="train_run",
                SLURM_NODELIST="127.0.0.1",
                SLURM_NNODES="1",
                SLURM_NTASKS=str(world),
                SLURM_NTASKS_PER_NODE=str(world),
                SLURM_PROCID=str(rank),
                SLURM_LOCALID=str(rank),
                SLURM_NODEID="0",
            )
        else:
            rank_env.update(
                TORCHELASTIC_RUN_ID="test",
                WORLD_SIZE=str(world),
                LOCAL_WORLD_SIZE=str(world),
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                GROUP_RANK="0",
            )
        out = open(log_dir / f"rank{rank}.log", "w")  # noqa: SIM115 (closed by _wait_all)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "codescale.cli", *args],
                env=rank_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
        procs[-1].log_path = log_dir / f"rank{rank}.log"
    return procs


def _wait_all(procs: list, timeout: float = 240) -> list[int]:
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.send_signal(signal.SIGABRT)
            time.sleep(2)
            for q in procs:
                q.kill()
            raise AssertionError(f"ranks running after {timeout} s:\n{_logs(procs)}") from None
    return codes


def _logs(procs: list) -> str:
    return "\n".join(f"--- {p.log_path.name}\n{p.log_path.read_text()}" for p in procs)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def single_ref(corpus: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """One process, the whole global batch of 8 in one pass."""
    root = tmp_path_factory.mktemp("single")
    assert main(_train_args(corpus, root / "out", root / "ckpt", *EXTRA)) == 0
    return root / "out"


@pytest.fixture(scope="module")
def ddp_ref(corpus: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """2 ranks under the real torchrun, same global batch (4 sequences per rank)."""
    root = tmp_path_factory.mktemp("ddp")
    args = _train_args(corpus, root / "out", root / "ckpt", *EXTRA)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    res = subprocess.run(
        [*torchrun, "--nproc-per-node", "2", "-m", "codescale.cli", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return root / "out"


def test_grad_accum_steps_arithmetic_and_errors() -> None:
    assert grad_accum_steps(8, 2, None) == (4, 1)
    assert grad_accum_steps(8, 2, 2) == (2, 2)
    assert grad_accum_steps(64, 4, 4) == (4, 4)
    with pytest.raises(CodescaleError, match=r"global batch 8 / \(world size 2 x micro-batch 3\)"):
        grad_accum_steps(8, 2, 3)
    with pytest.raises(CodescaleError, match="global batch 9 is not divisible by the world size 2"):
        grad_accum_steps(9, 2, None)


def test_ranks_from_launcher_environment() -> None:
    torchrun = {"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"}
    r = resolve_ranks("auto", 1, torchrun)
    assert (r.launcher, r.devices, r.num_nodes, r.world_size) == ("torchrun", 4, 2, 8)
    slurm = {"SLURM_NTASKS": "6", "SLURM_NTASKS_PER_NODE": "2(x3)", "SLURM_NNODES": "3"}
    r = resolve_ranks("auto", 1, slurm)
    assert (r.launcher, r.devices, r.num_nodes) == ("slurm", 2, 3)
    with pytest.raises(CodescaleError, match="--ntasks-per-node"):
        resolve_ranks("auto", 1, {"SLURM_NTASKS": "2", "SLURM_NNODES": "1"})
    # a 1-task srun step inside a job allocated with --ntasks-per-node=2: the step's counts win
    step = {**slurm, "SLURM_STEP_NUM_TASKS": "1", "SLURM_STEP_TASKS_PER_NODE": "1"}
    step["SLURM_STEP_NUM_NODES"] = "1"
    r = resolve_ranks("auto", 1, step)
    assert (r.launcher, r.devices, r.num_nodes) == ("slurm", 1, 1)
    assert resolve_ranks("1", 1, {}).launcher == "single"
    line = "JobId=7 JobName=train_run StartTime=2026-11-30T12:00:00 EndTime=2026-11-30T14:00:00 X=1"
    assert parse_end_time(line) - parse_end_time(line.replace("T14:00", "T12:00")) == 7200
    assert parse_end_time("JobId=7 EndTime=Unknown") is None


@pytest.mark.slow
def test_ddp_two_ranks_equals_one_process(single_ref: Path, ddp_ref: Path) -> None:
    one, two = _metrics(single_ref), _metrics(ddp_ref)
    assert two["world_size"] == 2 and two["strategy"] == "ddp" and one["world_size"] == 1
    assert two["grad_accum_steps"] == 1 and two["micro_batch_size"] == 4
    assert two["steps"] == one["steps"] and two["D"] == one["D"]
    diff = _max_diff(_weights(single_ref), _weights(ddp_ref))
    print(f"max |w_ddp2 - w_single| = {diff:.3g}")
    assert diff < TOL
    # the curve is the global-batch mean on every world size
    for (s1, t1, l1), (s2, t2, l2) in zip(one["train_loss"], two["train_loss"], strict=True):
        assert (s1, t1) == (s2, t2) and abs(l1 - l2) < 1e-4


@pytest.mark.slow
def test_gradient_accumulation_matches_one_big_batch(
    corpus: dict[str, str],  # noqa: F811
    tmp_path: Path,
    single_ref: Path,
    ddp_ref: Path,
) -> None:
    """k micro-batches of M = one batch of k*M: 1 rank (k=4, M=2) and 2 ranks (k=2, M=2)."""
    one = _train_args(corpus, tmp_path / "one", tmp_path / "c1", *EXTRA, "--micro-batch-size", "2")
    assert main(one) == 0
    m = _metrics(tmp_path / "one")
    assert (m["micro_batch_size"], m["grad_accum_steps"], m["strategy"]) == (2, 4, "none")
    diff1 = _max_diff(_weights(single_ref), _weights(tmp_path / "one"))
    two = _train_args(corpus, tmp_path / "two", tmp_path / "c2", *EXTRA, "--micro-batch-size", "2")
    procs = _launch(two, tmp_path / "logs", slurm=True)  # ranks from srun's variables
    assert _wait_all(procs) == [0, 0], _logs(procs)
    assert "2 rank(s) (slurm)" in _logs(procs)
    m = _metrics(tmp_path / "two")
    assert (m["micro_batch_size"], m["grad_accum_steps"], m["world_size"]) == (2, 2, 2)
    diff2 = _max_diff(_weights(ddp_ref), _weights(tmp_path / "two"))
    diff3 = _max_diff(_weights(single_ref), _weights(tmp_path / "two"))
    print(
        f"1 rank k=4 vs k=1: {diff1:.3g}; 2 ranks k=2 vs k=1: {diff2:.3g}; vs 1 process {diff3:.3g}"
    )
    assert max(diff1, diff2, diff3) < TOL
    bad = _train_args(corpus, tmp_path / "bad", tmp_path / "c3", "--micro-batch-size", "3")
    assert main(bad) == 2


def _sigterm_mid_run(procs: list, ckpt: Path, target: int) -> tuple[list[int], float]:
    """SIGTERM to rank `target` only, once the first checkpoint exists. Returns the exit codes
    and the seconds from the signal until last.ckpt was last replaced (the stop checkpoint)."""
    _wait_for(ckpt / "last.ckpt", procs[0])
    t0 = time.time()
    procs[target].send_signal(signal.SIGTERM)
    codes = _wait_all(procs, timeout=120)
    return codes, os.lstat(ckpt / "last.ckpt").st_mtime - t0


def _step_of(ckpt: Path) -> int:
    last = ckpt / "last.ckpt"
    path = last / "meta.pt" if last.is_dir() else last
    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


@pytest.mark.slow
def test_sigterm_to_one_of_two_ranks_checkpoints_and_resumes_exactly(
    corpus: dict[str, str],  # noqa: F811
    tmp_path: Path,
    ddp_ref: Path,
) -> None:
    """Both ranks stop at the same step (agreed), write a complete checkpoint within the grace
    time, exit 75; the rerun resumes to the weights of the uninterrupted 2-rank run."""
    ckpt = tmp_path / "ckpt"
    args = _train_args(
        corpus, tmp_path / "out", ckpt, *EXTRA, "--checkpoint-every", "4", "--stop-grace-s", "20"
    )
    procs = _launch(args, tmp_path / "logs1")
    codes, took = _sigterm_mid_run(procs, ckpt, target=1)
    logs = _logs(procs)
    assert codes == [EXIT_RESUBMIT, EXIT_RESUBMIT], logs
    assert took < 20, took
    # rank 0 got no signal itself but names the one rank 1 received
    assert logs.count("received SIGTERM at step ") == 2, logs
    stopped = int(logs.split("received SIGTERM at step ")[1].split("/")[0])
    assert _step_of(ckpt) == stopped and 4 <= stopped < _metrics(ddp_ref)["steps"]
    procs = _launch(args, tmp_path / "logs2")
    assert _wait_all(procs) == [0, 0], _logs(procs)
    m = _metrics(tmp_path / "out")
    assert m["resumed_from_step"] == stopped and m["segments"] == 2
    assert m["stops"] == [{"step": stopped, "reason": "SIGTERM"}]
    assert m["train_loss"] == _metrics(ddp_ref)["train_loss"]
    diff = _max_diff(_weights(ddp_ref), _weights(tmp_path / "out"))
    print(f"stopped at step {stopped} in {took:.2f} s; resumed vs uninterrupted: {diff:.3g}")
    assert diff == 0.0
    assert not (ckpt / "last.ckpt").exists()


@pytest.mark.slow
def test_fsdp_two_ranks_sharded_checkpoint_and_resume(
    corpus: dict[str, str],  # noqa: F811
    tmp_path: Path,
    ddp_ref: Path,
) -> None:
    """FSDP2 on 2 CPU ranks with activation checkpointing and 2 micro-batches: trains like DDP,
    checkpoints sharded (a directory of per-rank DCP files behind the last.ckpt link), and a
    run stopped by the job's time limit (agreed by both ranks: the end time is read on rank 0
    and broadcast) and resumed ends with the weights of the uninterrupted FSDP run."""
    opts = (*EXTRA, "--strategy", "fsdp", "--activation-checkpointing", "--micro-batch-size", "2")
    ref = _train_args(corpus, tmp_path / "ref", tmp_path / "ref_ckpt", *opts, "--keep-checkpoint")
    procs = _launch(ref, tmp_path / "logs0")
    assert _wait_all(procs) == [0, 0], _logs(procs)
    m = _metrics(tmp_path / "ref")
    assert (m["strategy"], m["world_size"], m["activation_checkpointing"]) == ("fsdp", 2, True)
    last = tmp_path / "ref_ckpt" / "last.ckpt"
    assert last.is_symlink() and last.is_dir()
    shards = sorted(p.name for p in last.iterdir())
    assert "meta.pt" in shards and sum(n.endswith(".distcp") for n in shards) == 2, shards
    full = _weights(tmp_path / "ref")
    assert full.keys() == _weights(ddp_ref).keys()  # full, unsharded, Transformer key names
    diff_ddp = _max_diff(full, _weights(ddp_ref))

    ckpt = tmp_path / "ckpt"
    args = _train_args(
        corpus,
        tmp_path / "out",
        ckpt,
        *opts,
        "--checkpoint-every",
        "4",
        "--stop-before-end-s",
        "600",
    )
    # the job "ends" in 60 s, less than the 600 s asked for: stop after the first step
    procs = _launch(args, tmp_path / "logs1", env={"CODESCALE_JOB_END_TIME": str(time.time() + 60)})
    assert _wait_all(procs) == [EXIT_RESUBMIT, EXIT_RESUBMIT], _logs(procs)
    assert "time limit near: checkpoint at step 1/47; resubmit to continue" in _logs(procs)
    stopped = _step_of(ckpt)
    assert stopped == 1 and (ckpt / "last.ckpt").resolve().name == "sharded-step000000001"
    procs = _launch(args, tmp_path / "logs2")  # no end time known: runs to the end
    assert _wait_all(procs) == [0, 0], _logs(procs)
    got = _metrics(tmp_path / "out")
    assert got["resumed_from_step"] == stopped and got["segments"] == 2
    assert got["stops"] == [{"step": 1, "reason": "time_limit"}]
    diff = _max_diff(full, _weights(tmp_path / "out"))
    print(f"FSDP vs DDP {diff_ddp:.3g}; FSDP stopped at {stopped}, resumed vs uninterrupted {diff}")
    assert diff_ddp < TOL and diff == 0.0
    assert not list(ckpt.iterdir())  # last.ckpt and the sharded dirs removed after the outputs


def test_stop_before_job_end_three_segments(
    corpus: dict[str, str],  # noqa: F811
    tmp_path: Path,
    single_ref: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--stop-before-end-s with the job end time from $CODESCALE_JOB_END_TIME: segments 1 and 2
    start with less time left than asked, so each does one step, checkpoints and exits 75;
    segment 3 has time and finishes with the uninterrupted run's weights, bit for bit."""
    args = _train_args(
        corpus, tmp_path / "out", tmp_path / "ckpt", *EXTRA, "--stop-before-end-s", "600"
    )
    for segment in (1, 2):
        monkeypatch.setenv("CODESCALE_JOB_END_TIME", str(time.time() + 60))
        with pytest.raises(SystemExit) as stop:
            main(args)
        assert stop.value.code == EXIT_RESUBMIT
        err = capsys.readouterr().err
        steps = _metrics(single_ref)["steps"]
        assert f"time limit near: checkpoint at step {segment}/{steps}; resubmit" in err
        assert _step_of(tmp_path / "ckpt") == segment
    monkeypatch.setenv("CODESCALE_JOB_END_TIME", str(time.time() + 3600))
    assert main(args) == 0
    m = _metrics(tmp_path / "out")
    assert m["segments"] == 3 and m["resumed_from_step"] == 2
    assert m["stops"] == [{"step": 1, "reason": "time_limit"}, {"step": 2, "reason": "time_limit"}]
    assert m["train_loss"] == _metrics(single_ref)["train_loss"]
    assert _max_diff(_weights(single_ref), _weights(tmp_path / "out")) == 0.0


def test_grace_time_ends_a_stuck_stop(tmp_path: Path) -> None:
    """A rank that cannot finish its stop checkpoint (here: it never reaches one) is ended with
    75 once --stop-grace-s has passed after the signal, before Slurm's SIGKILL would."""
    code = (
        "import os, signal, time\n"
        "from codescale.train.launch import StopControl\n"
        "with StopControl(world_size=1, grace_s=0.5):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    assert res.returncode == EXIT_RESUBMIT, res.stderr
    assert "stop checkpoint not complete" in res.stderr
    assert took < 15, took


def test_sharded_checkpoint_is_published_only_when_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sharded save that dies half-way (here: DCP raises after writing part of a shard) leaves
    last.ckpt on the previous complete checkpoint, which loads; the next good save publishes
    its own directory and removes the debris. One gloo rank in this process, real FSDP2."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from codescale.model import presets
    from codescale.model.llama import ModelConfig, Transformer
    from codescale.train.checkpoint import load_sharded, read_meta, save_sharded
    from codescale.train.module import LossModule

    dist.init_process_group(
        "gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1
    )
    try:
        torch.manual_seed(0)
        mesh = init_device_mesh("cpu", (1,))
        module = LossModule(Transformer(ModelConfig(**presets.model_config("5K", 64, 16))))
        for block in module.net.layers:
            fully_shard(block, mesh=mesh)
        fully_shard(module, mesh=mesh)
        opt = torch.optim.AdamW(module.parameters(), lr=1e-2)
        tokens = torch.randint(0, 64, (2, 17))

        def step() -> None:
            module(tokens[:, :-1], tokens[:, 1:]).backward()
            opt.step()
            opt.zero_grad()

        def weights() -> dict[str, torch.Tensor]:
            return {k: v.full_tensor().clone() for k, v in module.state_dict().items()}

        ckpt = tmp_path / "ckpt"
        ckpt.mkdir()
        step()
        save_sharded(ckpt, 1, module, opt, {"fingerprint": "x"}, 0, lambda: None)
        at_1 = weights()
        step()
        real_save = dcp.save

        def dies_half_way(state: dict, checkpoint_id: str) -> None:
            Path(checkpoint_id).mkdir(parents=True, exist_ok=True)
            (Path(checkpoint_id) / "__0_0.distcp").write_bytes(b"half a shard")
            raise OSError("killed while writing")

        monkeypatch.setattr(dcp, "save", dies_half_way)
        with pytest.raises(OSError, match="killed while writing"):
            save_sharded(ckpt, 2, module, opt, {"fingerprint": "x"}, 0, lambda: None)
        last = ckpt / "last.ckpt"
        assert last.resolve().name == "sharded-step000000001"
        assert read_meta(last)["global_step"] == 1
        assert (ckpt / ".sharded-step000000002.tmp").exists()  # debris, never published
        assert _max_diff(weights(), at_1) > 0
        load_sharded(last, module, opt)
        assert _max_diff(weights(), at_1) == 0.0
        monkeypatch.setattr(dcp, "save", real_save)
        save_sharded(ckpt, 2, module, opt, {"fingerprint": "x"}, 0, lambda: None)
        assert sorted(p.name for p in ckpt.iterdir()) == ["last.ckpt", "sharded-step000000002"]
    finally:
        dist.destroy_process_group()
