"""Run untrusted (model-written) programs in a bubblewrap sandbox with hard resource limits.

Every execution gets a fresh sandbox; nothing persists between executions:
  - filesystem: only the system directories (/usr and its /bin, /lib, /lib64 links, /etc) and the
    toolchain directories a language needs are bind-mounted, all READ-ONLY. The program's sources
    are bind-mounted read-only at /src; the only writable place is a private tmpfs at /tmp
    (`tmpfs_mb` in size, mode 1777) where the program is compiled and run; it vanishes with the
    sandbox. /root, /home, /work, the project tree and everything else are not there at all.
    /etc is visible (read-only): its world-readable files (passwd, ssl certificates) can be read.
  - namespaces: new network (only a down loopback: no connection can leave), pid (the program
    sees only its own processes, and they all die with the sandbox), ipc, uts, cgroup.
  - identity: as root (the CI and container case) the program runs as an unprivileged uid of its
    own (from `uid_base` up, held exclusively through an flock per uid while the sandbox lives;
    no groups, no capabilities, no new privileges, via util-linux `setpriv`), so file
    permissions apply and RLIMIT_NPROC is enforced (root is exempt from it). Not as root,
    bubblewrap's user namespace is used and RLIMIT_NPROC counts the caller's processes too, so it
    is raised by the caller's current process count.
  - rlimits (setrlimit before exec, inherited): CPU seconds (RLIMIT_CPU), memory (RLIMIT_DATA:
    heap and private writable mappings; RLIMIT_AS is not used by default because the JVM, V8, Go
    and Mono reserve far more address space than they use), processes/threads (RLIMIT_NPROC),
    file size (RLIMIT_FSIZE), no core dumps, 1024 open files.
  - wall-clock timeout and an output cap: the parent reads stdout/stderr itself and kills the
    sandbox when either exceeds `output_bytes` or the wall time passes. Killing bubblewrap's
    monitor kills its pid namespace (--die-with-parent), so no process survives a timeout.

What it does NOT protect against: kernel exploits (the sandbox shares the host kernel; there is no
seccomp filter beyond bubblewrap's defaults), CPU contention (a program may use up to `cpu_s`
CPU-seconds per process, times the process limit, within the wall time), reading world-readable
files under the bound system directories, and timing side channels. It is meant to keep honest
mistakes and the usual runaway code of a language model (loops, fork bombs, huge allocations,
floods of output, stray file writes, network use) from harming the host, not to contain an
adversary with a kernel exploit.

Fallback: where bubblewrap is missing the stage refuses to run unless `sandbox: rlimits` is set
explicitly; that mode applies the same rlimits, timeout and output cap in a private temp dir but
with no filesystem, network or pid isolation (documented as unsafe in the README).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from codescale.errors import CodescaleError

SYSTEM_RO = ("/usr", "/etc")
SYMLINKS = (
    ("usr/bin", "/bin"),
    ("usr/sbin", "/sbin"),
    ("usr/lib", "/lib"),
    ("usr/lib64", "/lib64"),
)
SANDBOX_MODES = ("bwrap", "rlimits")
LOCK_DIR = Path(tempfile.gettempdir()) / "codescale-sandbox-uids"  # one flock per uid in use


@dataclass(frozen=True)
class Limits:
    """Per-execution limits; units in the names. Defaults fit HumanEval-size programs."""

    wall_s: float = 20.0
    cpu_s: int = 10
    memory_mb: int = 2048  # RLIMIT_DATA
    address_space_mb: int | None = None  # RLIMIT_AS; None = not set (see module doc)
    nproc: int = 128  # processes + threads of the sandbox uid (JVM needs ~25 threads)
    fsize_mb: int = 64
    output_bytes: int = 1_000_000
    tmpfs_mb: int = 256


@dataclass
class Outcome:
    """What one execution did. `status`: ok | exit | timeout | output_limit | signal."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Sandbox:
    """Where and how to run: mode, extra read-only directories (toolchains), uid for the program."""

    mode: str = "bwrap"
    ro_paths: list[tuple[str, str]] = field(default_factory=list)  # (host dir, sandbox dir)
    uid_base: int = 200_000

    def __post_init__(self) -> None:
        if self.mode not in SANDBOX_MODES:
            raise CodescaleError(
                f"execute.sandbox must be one of {SANDBOX_MODES}, got {self.mode!r}"
            )
        if self.mode == "bwrap" and shutil.which("bwrap") is None:
            raise CodescaleError(
                "bubblewrap (bwrap) not found: install it (scripts/setup-toolchains.sh,"
                " or apt-get install bubblewrap), or set execute.sandbox: rlimits to run"
                " without isolation (unsafe; see README)"
            )

    def uid(self, slot: int, attempt: int = 0) -> int:
        """A candidate uid for (this process, slot); `claim_uid` makes it exclusive."""
        return self.uid_base + ((os.getpid() + attempt) % 50_000) * 16 + slot % 16

    @contextlib.contextmanager
    def claim_uid(self, slot: int) -> Iterator[int]:
        """A uid no other sandbox on this host uses meanwhile (an flock per uid under /tmp), so
        RLIMIT_NPROC is per execution and the clean-up after it kills only its own processes."""
        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        for attempt in range(1024):
            uid = self.uid(slot, attempt)
            fd = os.open(LOCK_DIR / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield uid
            finally:
                os.close(fd)  # releases the lock
            return
        raise CodescaleError(f"no free sandbox uid in {LOCK_DIR} after 1024 attempts")

    def command(self, src: Path, argv: list[str], uid: int, limits: Limits) -> list[str]:
        """bwrap argv running `argv` inside the sandbox with `src` at /src (read-only)."""
        if self.mode == "rlimits":
            return argv
        cmd = ["bwrap"]
        for p in SYSTEM_RO:
            cmd += ["--ro-bind", p, p]
        for target, link in SYMLINKS:
            if Path(link).is_symlink() or not Path(link).exists():
                cmd += ["--symlink", target, link]
            else:
                cmd += ["--ro-bind", link, link]
        made: set[str] = set()
        for host, inside in self.ro_paths:
            parent = str(Path(inside).parent)
            if parent != "/" and parent not in made:  # bwrap would create it mode 0700
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
            if Path(host).exists() and not any(inside.startswith(s + "/") for s in SYSTEM_RO):
                cmd += ["--ro-bind", host, inside]
        cmd += ["--ro-bind", str(src), "/src"]
        cmd += ["--perms", "1777", "--size", str(limits.tmpfs_mb << 20), "--tmpfs", "/tmp"]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        cmd += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"]
        for k, v in (("HOME", "/tmp"), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8"), ("SRC", "/src")):
            cmd += ["--setenv", k, v]
        if os.geteuid() == 0:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            cmd += ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
            cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        else:
            cmd += ["--unshare-user", "--"]
        return cmd + argv


def _user_process_count() -> int:
    uid = os.getuid()
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                n += d.stat().st_uid == uid
    return n


def _preexec(limits: Limits, nproc_extra: int):
    def apply() -> None:
        def cap(which: int, value: int) -> None:
            resource.setrlimit(which, (value, value))

        cap(resource.RLIMIT_CPU, limits.cpu_s)
        cap(resource.RLIMIT_DATA, limits.memory_mb << 20)
        if limits.address_space_mb is not None:
            cap(resource.RLIMIT_AS, limits.address_space_mb << 20)
        cap(resource.RLIMIT_NPROC, limits.nproc + nproc_extra)
        cap(resource.RLIMIT_FSIZE, limits.fsize_mb << 20)
        cap(resource.RLIMIT_CORE, 0)
        cap(resource.RLIMIT_NOFILE, 1024)

    return apply


def run_sandboxed(
    sandbox: Sandbox,
    files: dict[str, str],
    argv: list[str],
    limits: Limits,
    env: dict[str, str] | None = None,
    slot: int = 0,
) -> Outcome:
    """Write `files` to a fresh directory, run `argv` on them in the sandbox, return the outcome.

    The files' directory is in $SRC (inside the sandbox /src, read-only) and the working
    directory is writable (inside the sandbox the tmpfs /tmp; in `rlimits` mode a private temp
    dir).
    """
    with tempfile.TemporaryDirectory(prefix="codescale-exec-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        os.chmod(tmp, 0o755)
        os.chmod(src, 0o755)
        for name, text in files.items():
            (src / name).write_text(text)
            os.chmod(src / name, 0o644)
        full_env = None
        cwd = None
        if sandbox.mode == "rlimits":
            work = Path(tmp) / "work"
            work.mkdir()
            cwd = str(work)
            full_env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(work),
                "TMPDIR": str(work),
                "SRC": str(src),
            }
            full_env.update(env or {})
        own_uid = sandbox.mode == "bwrap" and os.geteuid() == 0
        extra = 0 if own_uid else _user_process_count()
        with sandbox.claim_uid(slot) if own_uid else contextlib.nullcontext(0) as uid:
            cmd = sandbox.command(src, argv, uid, limits)
            if sandbox.mode == "bwrap" and env:
                setenv = []
                for k, v in env.items():
                    setenv += ["--setenv", k, v]
                cmd = [cmd[0], *setenv, *cmd[1:]]
            outcome = _communicate(cmd, limits, _preexec(limits, extra), full_env, cwd)
            if own_uid:
                _reap(uid)
        return outcome


def uid_processes(uid: int) -> list[int]:
    """Pids of the processes whose owner is `uid` (the sandbox's own uid)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def _reap(uid: int, wait_s: float = 5.0) -> None:
    """Make sure no process of the sandbox's uid outlives it (the pid namespace's teardown after a
    kill is asynchronous); SIGKILL any that is still there after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while (pids := uid_processes(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _communicate(cmd, limits: Limits, preexec, env, cwd) -> Outcome:
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec,
        start_new_session=True,
        env=env,
        cwd=cwd,
    )
    bufs = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    sel = selectors.DefaultSelector()
    for f in bufs:
        os.set_blocking(f.fileno(), False)
        sel.register(f, selectors.EVENT_READ)
    status, detail = "", ""
    open_pipes = 2
    while open_pipes:
        left = limits.wall_s - (time.monotonic() - start)
        if left <= 0:
            status, detail = "timeout", f"wall time over {limits.wall_s:g} s"
            break
        for key, _ in sel.select(timeout=min(left, 0.5)):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_pipes -= 1
                continue
            bufs[key.fileobj] += chunk
        if sum(len(b) for b in bufs.values()) > limits.output_bytes:
            status, detail = "output_limit", f"output over {limits.output_bytes} bytes"
            break
    if status:
        _kill(proc)
    try:
        rc = proc.wait(timeout=max(0.1, limits.wall_s - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        _kill(proc)
        rc = proc.wait()
        status, detail = status or "timeout", detail or f"wall time over {limits.wall_s:g} s"
    sel.close()
    for f in bufs:
        f.close()
    if not status:
        if rc == 0:
            status = "ok"
        elif rc < 0:
            status, detail = "signal", signal.Signals(-rc).name
        else:
            status = "exit"
    cap = limits.output_bytes
    return Outcome(
        status,
        rc,
        bytes(bufs[proc.stdout][:cap]).decode("utf-8", "replace"),
        bytes(bufs[proc.stderr][:cap]).decode("utf-8", "replace"),
        time.monotonic() - start,
        detail,
    )


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the sandbox's process group (bwrap's monitor; its pid namespace dies with it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
