#!/usr/bin/env bash
# A real Slurm check of sweep workers (issue #15), on this one machine:
#   1. installs Debian's slurm-wlm and munge if missing (needs root), starts munged, slurmctld and
#      slurmd with a single-node slurm.conf declaring 8 CPUs (SlurmdParameters=config_overrides),
#      so four 2-CPU array tasks run at once;
#   2. copies the working tree into a scratch checkout that has never been built, so the array's
#      tasks start with nothing built and must share one build of the CLI;
#   3. submits deploy/slurm-sweep.sh from outside the checkout with a 60-run grid as --array=1-4,
#      then the same grid as --array=2, then a 96-run grid as --array=0-7, and checks after each
#      that every task COMPLETED, every run has one record and was started exactly once, and
#   4. that the report equals a one-process sweep of the same grid;
#   5. preempts a long run (scancel --full --signal=TERM), resubmits it, and checks that it resumed
#      from its checkpoint and ended with a model file byte-identical to an uninterrupted run.
# Prints every figure it checks; exits non-zero on the first failed check. Not part of .ci/run
# (it needs root and takes a few minutes). Scratch: $SLURM_CHECK_DIR (default /tmp/fflib-slurm-check).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${SLURM_CHECK_DIR:-/tmp/fflib-slurm-check}"
say() { echo "slurm-check: $*"; }
fail() { echo "slurm-check: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs and starts the Slurm daemons)"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
"$root/scripts/get-data.sh"

# Daemons from an earlier check go first.
pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
sleep 1
rm -rf "$work"
mkdir -p "$work"/{state,spool,logs}

# munge: a key and a running daemon (as the munge user, as Debian runs it).
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null || fail "munge does not work"

host="$(hostname -s)"
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=fflibcheck
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
SlurmdParameters=config_overrides
NodeName=$host CPUs=8 RealMemory=20000 State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do sinfo -h -o %t 2>/dev/null | grep -qE '^idle' && break; sleep 1; done
sinfo -h -o '%P %t %c CPUs' | grep -q idle || fail "the node did not come up (see $work/slurmd.log)"
say "cluster up: $(sinfo -h -o '%n %t %c CPUs %m MB')"

# A checkout that has never been built: the working tree's tracked and new files.
repo="$work/repo"
mkdir -p "$repo"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | (cd "$repo" && tar -xf -)
say "scratch checkout: $repo (no build in it)"

# Grid A: ffnn 3 lr × 3 θ × 5 seeds = 45, bpnn 3 lr × 5 seeds = 15: 60 runs. Grid B, 8 seeds: 96, A's 60 among them.
common=(--model ffnn,bpnn --grid layers=32x16 --grid lr=0.005,0.01,0.02 --grid threshold=1,5,20 --epochs 1 --train-limit 1000 --test-limit 200)
grid_a=("${common[@]}" --seeds 5)
grid_b=("${common[@]}" --seeds 8)
results="$work/results"

# submit ARRAY ARGS...: from outside the checkout, waits for every task; prints the job id.
submit() {
  local array=$1; shift
  local id
  id=$(cd "$work/logs" && RESULTS="$results" sbatch --parsable --array="$array" --output="$work/logs/%A_%a.log" "$repo/deploy/slurm-sweep.sh" "$@")
  for _ in $(seq 900); do
    [ -z "$(squeue -h -j "$id" 2>/dev/null)" ] && break
    sleep 1
  done
  [ -z "$(squeue -h -j "$id" 2>/dev/null)" ] || fail "job $id still running after 15 min"
  echo "$id"
}

# check JOB TASKS RUNS: every task COMPLETED with exit 0, RUNS records, each started once in all.
check() {
  local job=$1 tasks=$2 runs=$3
  local states
  states=$(scontrol -o show job "$job" | grep -oE 'JobState=[A-Z]+ .*ExitCode=[0-9:]+' | sed -E 's/JobState=([A-Z]+).*ExitCode=([0-9:]+)/\1 \2/' | sort | uniq -c | tr '\n' ';')
  say "job $job: tasks by state and exit code: $states"
  [ "$(scontrol -o show job "$job" | grep -c 'JobState=COMPLETED .*ExitCode=0:0')" = "$tasks" ] || fail "not all $tasks tasks of job $job completed with exit 0"
  local records started distinct
  records=$(ls "$results/runs"/*.json | wc -l)
  started=$(cat "$results/workers"/*.log | awk '$2 == "started" || $2 == "resumed"' | wc -l)
  distinct=$(cat "$results/workers"/*.log | awk '$2 == "started"' | awk '{print $3}' | sort -u | wc -l)
  say "records: $records, trainings started (all jobs so far): $started, distinct runs started: $distinct, workers: $(ls "$results/workers" | wc -l)"
  [ "$records" = "$runs" ] || fail "$records records, expected $runs"
  [ "$started" = "$runs" ] || fail "$started trainings for $runs runs"
  [ "$distinct" = "$runs" ] || fail "$distinct distinct runs started, expected $runs"
}

say "1. --array=1-4, 60-run grid, unbuilt checkout"
job=$(submit 1-4 "${grid_a[@]}")
check "$job" 4 60
builds=$(cat "$work"/logs/"$job"_*.log | grep -c 'building the CLI (Release)' || true)
waits=$(cat "$work"/logs/"$job"_*.log | grep -c 'another fflib is building' || true)
say "CLI builds: $builds; tasks that waited for that build: $waits; build folders: $(ls -d "$repo"/artifacts/cli-* | wc -l)"
[ "$builds" = 1 ] || fail "$builds builds of the CLI (expected 1)"
for f in "$work"/logs/"$job"_*.log; do say "  $(basename "$f"): $(grep -oE 'trained [0-9]+' "$f" || echo 'no summary')"; done

say "2. --array=2, the same grid (all finished: trains nothing, completes)"
job=$(submit 2 "${grid_a[@]}")
check "$job" 1 60
grep -q 'trained 0' "$work"/logs/"$job"_2.log || fail "the resubmitted task trained something"

say "3. --array=0-7, a 96-run grid holding the 60"
job=$(submit 0-7 "${grid_b[@]}")
check "$job" 8 96

say "4. report vs one process"
"$repo/fflib" report --results "$results" > /dev/null
"$repo/fflib" sweep "${grid_b[@]}" --threads 2 --results "$work/single" 2> "$work/logs/single.log" > /dev/null
"$repo/fflib" report --results "$work/single" > /dev/null
for f in report.md table2.csv table3.csv table5.csv; do
  cmp -s "$results/$f" "$work/single/$f" || fail "$f differs between the Slurm sweep and one process"
done
say "report.md, table2.csv, table3.csv, table5.csv identical to a one-process sweep of the same grid ($(grep -c '' "$results/table2.csv") lines in table2.csv)"

say "5. preemption: SIGTERM to a running task, then resubmit"
results="$work/preempt"
long=(--grid layers=512x256 --seeds 1 --epochs 12 --train-limit 20000 --test-limit 1000 --save-models)
id=$(cd "$work/logs" && RESULTS="$results" sbatch --parsable --array=0 --output="$work/logs/%A_%a.log" "$repo/deploy/slurm-sweep.sh" "${long[@]}")
for _ in $(seq 300); do ls "$results"/work/*/checkpoint.safetensors >/dev/null 2>&1 && break; sleep 1; done
ls "$results"/work/*/checkpoint.safetensors >/dev/null 2>&1 || fail "the long run never checkpointed"
sleep 2
scancel --full --signal=TERM "$id"
for _ in $(seq 120); do [ -z "$(squeue -h -j "$id" 2>/dev/null)" ] && break; sleep 1; done
say "after SIGTERM: $(scontrol -o show job "$id" | grep -oE 'JobState=[A-Z]+|ExitCode=[0-9:]+' | tr '\n' ' ')"
grep -q 'SIGTERM received' "$work/logs/${id}_0.log" || fail "the worker did not see SIGTERM"
say "worker: $(grep -E 'interrupted' "$work/logs/${id}_0.log" | head -n 1)"
[ -z "$(ls "$results/claims")" ] || fail "the interrupted worker left its claim"
job=$(submit 0 "${long[@]}")
say "resubmitted: $(grep -E 'resuming after epoch' "$work/logs/${job}_0.log")"
grep -q 'resuming after epoch' "$work/logs/${job}_0.log" || fail "the resubmitted task did not resume"
"$repo/fflib" sweep "${long[@]}" --threads 2 --results "$work/preempt-single" 2> "$work/logs/preempt-single.log" > /dev/null
for m in "$results"/models/*.safetensors; do
  cmp -s "$m" "$work/preempt-single/models/$(basename "$m")" || fail "the preempted run's model differs from an uninterrupted run's"
done
say "preempted and resumed run: model file byte-identical to an uninterrupted run ($(basename "$results"/models/*.safetensors))"

scancel --quiet --user root 2>/dev/null || true
pkill -x slurmd || true
pkill -x slurmctld || true
say "PASSED"
