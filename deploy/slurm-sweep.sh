#!/bin/bash
# Slurm job array for an FFLib sweep. Every task is a worker: it claims unfinished runs of the grid
# one at a time in the shared results folder and trains them, so any array spec works
# (--array=0-9, --array=1-4, --array=2 to add one more worker later, resubmitting after a crash),
# and no run is trained twice while its worker lives. A preempted or timed-out task gets SIGTERM
# (see --signal below): it stops at the next batch, keeps the run's checkpoint (written every
# epoch into RESULTS/work/) and releases its claim; the next worker continues the run from there.
#
# Submit, from anywhere:   sbatch --array=0-9 /path/to/fflib/deploy/slurm-sweep.sh
# Another grid:            sbatch --array=0-3 deploy/slurm-sweep.sh --model ffnn --grid lr=0.01,0.02 --seeds 3
# Resume or add workers:   submit again; finished runs are skipped.
# Afterwards:              fflib report --results "$RESULTS"
# Which fflib: $FFLIB if set, else the repository this script was submitted from (found from the
# submission folder upwards), else an installed `fflib` tool on PATH.
#SBATCH --job-name=fflib-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --signal=B:TERM@120
#SBATCH --output=fflib-sweep-%A_%a.log
set -euo pipefail

find_fflib() {
  if [ -n "${FFLIB:-}" ]; then echo "$FFLIB"; return; fi
  # Slurm runs a copy of this script from its spool folder: look where the job was submitted from,
  # and where the submitted script lies (scontrol knows its original path).
  local d script
  script="$(scontrol show job "${SLURM_JOB_ID:-0}" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -n 1)"
  for start in "${SLURM_SUBMIT_DIR:-}" "$(dirname "${script:-/}")" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; do
    d="$start"
    while [ -n "$d" ] && [ "$d" != "/" ]; do
      if [ -x "$d/fflib" ] && [ -d "$d/src/FFLib.Cli" ]; then echo "$d/fflib"; return; fi
      d="$(dirname "$d")"
    done
  done
  if command -v fflib >/dev/null 2>&1; then command -v fflib; return; fi
  echo "slurm-sweep: cannot find fflib: submit from inside the repository, set FFLIB=/path/to/fflib, or install the tool (dotnet tool install -g FFLib.Cli)" >&2
  exit 2
}
fflib="$(find_fflib)"
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
RESULTS="${RESULTS:-runs/sweep}"
if [ "$#" -eq 0 ]; then
  # The paper's learning-rate × threshold grid (Figures 3–8) for every architecture on MNIST.
  set -- --model ffnn,ffc,ffrnn,bpnn --dataset mnist --grid lr=0.001,0.005,0.02 --grid threshold=1,5,20 --seeds 10 --epochs 60
fi
# bash waits for the worker in the background so that the TERM Slurm sends the batch shell reaches it.
"$fflib" sweep "$@" --threads "${SLURM_CPUS_PER_TASK:-2}" --results "$RESULTS" &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null' TERM
set +e
wait "$worker"; status=$?
# A trapped TERM interrupts `wait`: wait again for the worker's own exit (143 after a clean stop).
if kill -0 "$worker" 2>/dev/null; then wait "$worker"; status=$?; fi
exit "$status"
