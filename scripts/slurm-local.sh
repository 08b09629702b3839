#!/usr/bin/env bash
# A real single-node Slurm on this machine, for tests: `start DIR` installs (Debian packages),
# configures (/etc/slurm, fake GPUs) and starts munge + slurmctld + slurmd; `stop DIR` stops them by
# their PID files. Needs root. Facts behind each line: ../shared/SLURM_LOCAL.md and README.
set -euo pipefail
cmd=${1:?usage: slurm-local.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm-local.sh start|stop DIR}")

stop() {
    local d=${1:-$dir}
    # munged runs as the munge user, so its PID file is munge's own /run/munge/munged.pid.
    for pidfile in "$d/slurmd.pid" "$d/slurmctld.pid" /run/munge/munged.pid; do
        if [ -f "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            rm -f "$pidfile"
        fi
    done
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "slurm-local: needs root" >&2; exit 3; }
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
mkdir -p "$dir/state" "$dir/spool" /etc/slurm /run/munge
chown munge:munge /run/munge
# Fake GPUs: the scheduler needs device files; jobs get CUDA_VISIBLE_DEVICES, torch sees no CUDA.
for i in 0 1; do [ -e "$dir/gpu$i" ] || mknod "$dir/gpu$i" c 1 3; done
# Daemons of an earlier start from another state dir would hold the ports: stop them by the PID
# files that the slurm.conf about to be replaced points at.
if [ -f /etc/slurm/slurm.conf ]; then
    prev=$(sed -n 's/^StateSaveLocation=\(.*\)\/state$/\1/p' /etc/slurm/slurm.conf)
    [ -n "$prev" ] && [ "$prev" != "$dir" ] && stop "$prev"
fi
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
# the CPUs this process may use; `nproc` alone would obey OMP_NUM_THREADS (a 1-CPU node then
# leaves every 2-rank job pending forever with reason PartitionConfig)
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=codescale-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
MpiDefault=none
GresTypes=gpu
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:fake:2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
PartitionName=gpu Nodes=localhost Default=NO MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
# A 2-minute partition: runs longer than that must finish as segments (tests/test_slurm.py).
PartitionName=short Nodes=localhost Default=NO MaxTime=2 OverSubscribe=FORCE:4 State=UP
CONF
echo "NodeName=localhost Name=gpu Type=fake File=$dir/gpu[0-1]" > /etc/slurm/gres.conf
stop
runuser -u munge -- /usr/sbin/munged
slurmctld
slurmd -N localhost
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)'; then
        echo "slurm-local: up ($cpus CPUs, ${mem_mb} MB, 2 fake GPUs) in $dir"
        exit 0
    fi
    sleep 1
done
echo "slurm-local: slurmd did not become idle; see $dir/slurmd.log and $dir/slurmctld.log" >&2
exit 4
