"""Where the ranks of a training run come from, and when it must stop early (signals, time limit).

Ranks (rank, local rank, world size, devices per node, nodes) are read from the environment that
started the processes, never from flags, so one command line serves every launcher:

- Slurm: `srun --ntasks-per-node=G codescale train ...` inside an allocation of n nodes. Lightning's
  SLURMEnvironment reads SLURM_PROCID / SLURM_LOCALID / SLURM_NTASKS; devices per node are
  SLURM_NTASKS_PER_NODE ("2" or "2(x3)"), nodes SLURM_NNODES. Lightning's auto-requeue stays off:
  requeueing is Snakemake's job.
- torchrun (`torchrun --nproc-per-node G -m codescale.cli train ...`, or anything that sets the
  same variables: TORCHELASTIC_RUN_ID, RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
  MASTER_PORT): Lightning's TorchElasticEnvironment; devices per node = LOCAL_WORLD_SIZE.
- one plain process: --devices / --num-nodes as given (default 1 device, 1 node).

Stops: a stop is requested on a rank by SIGTERM or SIGUSR1 (Slurm's preemption or `--signal`
warning; Slurm sends them to every task, but one rank receiving one is enough) or by the job's end
time coming within `--stop-before-end-s`. `StopControl.poll` runs after every optimizer step and
agrees the request across ranks with one all_reduce(MAX) of a 1-element int64 CPU tensor on a gloo
side group: no GPU work, no host-device sync, a few tens of microseconds per step. Every rank then
sees the same decision at the same step, writes its part of the checkpoint and exits with
EXIT_RESUBMIT (75, EX_TEMPFAIL: "try again", the convention for a job that must be resubmitted).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from codescale.errors import CodescaleError

log = logging.getLogger(__name__)

EXIT_RESUBMIT = 75  # EX_TEMPFAIL from sysexits.h
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
# unix seconds; overrides the Slurm lookup (tests, or a launcher that knows the end time)
END_TIME_ENV = "CODESCALE_JOB_END_TIME"

# Stop codes agreed by the MAX all_reduce: 0 none, 1 time limit, SIGNAL_BASE + signal number (a
# signal outranks the time limit, and every rank learns which signal arrived somewhere).
NO_STOP, TIME_LIMIT, SIGNAL_BASE = 0, 1, 100


def stop_reason(code: int) -> str:
    """ "time_limit", or the signal's name ("SIGTERM", "SIGUSR1") for a stop code."""
    if code >= SIGNAL_BASE:
        return signal.Signals(code - SIGNAL_BASE).name
    return "time_limit" if code == TIME_LIMIT else "none"


class StopRun(Exception):  # noqa: N818 (a control-flow exit, not an error)
    """Raised on every rank after the stop checkpoint is complete; the CLI exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_RESUBMIT):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Ranks:
    """How many processes this run has and who started them (`launcher`: slurm/torchrun/single)."""

    launcher: str
    devices: int  # processes (= devices) per node
    num_nodes: int

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes

    def environment(self) -> Any:
        """The Lightning ClusterEnvironment plugin for this launcher (None: Lightning's default)."""
        from lightning.fabric.plugins.environments import (
            SLURMEnvironment,
            TorchElasticEnvironment,
        )

        if self.launcher == "slurm":
            # Lightning checks SLURM_NTASKS(_PER_NODE) against devices: give it the step's counts
            os.environ["SLURM_NTASKS"] = str(self.world_size)
            os.environ["SLURM_NTASKS_PER_NODE"] = str(self.devices)
            return SLURMEnvironment(auto_requeue=False)
        if self.launcher == "torchrun":
            return TorchElasticEnvironment()
        return None


def _leading_int(value: str, name: str) -> int:
    match = re.match(r"\s*(\d+)", value)
    if not match:
        raise CodescaleError(f"cannot read a task count from {name}={value!r}")
    return int(match.group(1))


def resolve_ranks(devices: str | int, num_nodes: int, env: dict[str, str] | None = None) -> Ranks:
    """Ranks from the launcher's environment (see module docstring); flags only for one process.

    torchrun is checked first: a torchrun started inside a Slurm allocation owns its ranks.
    """
    env = dict(os.environ) if env is None else env
    if env.get("TORCHELASTIC_RUN_ID"):
        local = int(env.get("LOCAL_WORLD_SIZE", "1"))
        world = int(env.get("WORLD_SIZE", str(local)))
        if world % local:
            raise CodescaleError(
                f"WORLD_SIZE {world} is not a multiple of LOCAL_WORLD_SIZE {local}"
            )
        return Ranks("torchrun", local, world // local)
    slurm = "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive")
    if slurm:
        # inside `srun` the step's own counts (SLURM_STEP_*) win over the allocation's, which a
        # job step inherits from sbatch (e.g. --ntasks-per-node=8 for the job, srun -n1 a step)
        nodes = _leading_int(
            env.get("SLURM_STEP_NUM_NODES", env.get("SLURM_NNODES", "1")), "SLURM_NNODES"
        )
        ntasks = _leading_int(env.get("SLURM_STEP_NUM_TASKS", env["SLURM_NTASKS"]), "SLURM_NTASKS")
        per_node_var = env.get("SLURM_STEP_TASKS_PER_NODE", env.get("SLURM_NTASKS_PER_NODE"))
        if ntasks > 1 and per_node_var is None:
            raise CodescaleError(
                f"SLURM_NTASKS={ntasks} without SLURM_NTASKS_PER_NODE: start the ranks with "
                "`srun --ntasks-per-node=G` (Lightning needs it)"
            )
        per_node = _leading_int(per_node_var or "1", "SLURM_NTASKS_PER_NODE")
        if per_node * nodes != ntasks:
            raise CodescaleError(
                f"SLURM_NTASKS={ntasks} is not SLURM_NTASKS_PER_NODE={per_node} x "
                f"SLURM_NNODES={nodes}: start the ranks with `srun --ntasks-per-node=G`"
            )
        return Ranks("slurm", per_node, nodes)
    n = int(devices) if str(devices).isdigit() else 1
    return Ranks("single", n, num_nodes)


def job_end_time(env: dict[str, str] | None = None) -> float | None:
    """The Slurm job's end time in unix seconds, None outside Slurm (or when Slurm does not say).

    CODESCALE_JOB_END_TIME wins when set (tests; or a launcher that knows better). Otherwise
    `scontrol show job -o $SLURM_JOB_ID` and its EndTime=YYYY-MM-DDTHH:MM:SS field, which Slurm
    prints in the local time zone of the host (so it is parsed as local time here).
    """
    env = dict(os.environ) if env is None else env
    if env.get(END_TIME_ENV):
        try:
            return float(env[END_TIME_ENV])
        except ValueError:
            raise CodescaleError(
                f"{END_TIME_ENV}={env[END_TIME_ENV]!r} is not a unix time in seconds"
            ) from None
    job = env.get("SLURM_JOB_ID")
    if not job:
        return None
    try:
        out = subprocess.run(
            ["scontrol", "show", "job", "-o", job],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("cannot read the end time of Slurm job %s: %s", job, err)
        return None
    return parse_end_time(out)


def parse_end_time(scontrol_line: str) -> float | None:
    """EndTime=... of one `scontrol show job -o` line as unix seconds (None: Unknown/absent)."""
    match = re.search(r"\bEndTime=(\S+)", scontrol_line)
    if not match or match.group(1) in ("Unknown", "None", "N/A"):
        return None
    try:
        return dt.datetime.fromisoformat(match.group(1)).timestamp()
    except ValueError:
        return None


class StopControl:
    """Per-step, cross-rank agreed stop requests (see module docstring).

    `grace_s`: once a signal arrives, a watchdog ends the process with EXIT_RESUBMIT after this
    many seconds even if the checkpoint is not finished (a step much longer than the grace time,
    or a rank stuck in a collective): Slurm's SIGKILL would come anyway, and the previous
    checkpoint is intact because checkpoints only become visible once complete.
    """

    def __init__(
        self,
        world_size: int,
        grace_s: float,
        stop_before_end_s: float = 0.0,
        end_time: float | None = None,
    ):
        self.world_size = world_size
        self.grace_s = grace_s
        self.stop_before_end_s = stop_before_end_s
        self.end_time = end_time if stop_before_end_s > 0 else None
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}
        self._group: Any = None
        self._flag = torch.zeros(1, dtype=torch.int64)
        self._watchdog: threading.Timer | None = None

    def __enter__(self) -> StopControl:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        if self.world_size > 1 and dist.is_available() and dist.is_initialized():
            # every rank creates the group, in the same order: new_group is itself a collective
            self._group = dist.new_group(backend="gloo")
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signal is None and self.grace_s > 0:
            self._watchdog = threading.Timer(self.grace_s, self._give_up)
            self._watchdog.daemon = True
            self._watchdog.start()
        self.signal = signum

    def _give_up(self) -> None:
        log.error(
            "stop checkpoint not complete %.0f s after %s: exiting; the previous checkpoint stays",
            self.grace_s,
            signal.Signals(self.signal).name if self.signal else "the signal",
        )
        logging.shutdown()
        os._exit(EXIT_RESUBMIT)

    def local_reason(self, now: float | None = None) -> int:
        if self.signal is not None:
            return SIGNAL_BASE + self.signal
        if self.end_time is not None:
            now = time.time() if now is None else now
            if self.end_time - now < self.stop_before_end_s:
                return TIME_LIMIT
        return NO_STOP

    def poll(self) -> int:
        """The stop code every rank agrees on (see `stop_reason`; 0: go on). Call every step."""
        reason = self.local_reason()
        if self._group is None:
            return reason
        self._flag[0] = reason
        dist.all_reduce(self._flag, op=dist.ReduceOp.MAX, group=self._group)
        return int(self._flag[0])

    def barrier(self) -> None:
        """Wait for every rank (after the stop checkpoint: nobody exits before it is complete)."""
        if self._group is not None:
            dist.barrier(group=self._group)
