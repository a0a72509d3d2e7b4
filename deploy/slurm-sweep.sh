#!/bin/bash
# Slurm job array for an FFLib sweep: every array task runs one deterministic shard of the grid and
# writes its run records into the shared results folder (one JSON file per run, atomically).
# Submit:   sbatch --array=0-9 deploy/slurm-sweep.sh
# Resume:   submit again; finished runs are skipped. Report: ./fflib report --results $RESULTS
#SBATCH --job-name=fflib-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --output=fflib-sweep-%A_%a.log
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
RESULTS="${RESULTS:-runs/sweep}"
# The shard index comes from SLURM_ARRAY_TASK_ID, the count from SLURM_ARRAY_TASK_COUNT.
./fflib sweep --model ffnn,ffc,ffrnn,bpnn --dataset mnist \
  --grid lr=0.001,0.005,0.02 --grid threshold=1,5,20 --seeds 10 --epochs 60 \
  --threads "${SLURM_CPUS_PER_TASK:-2}" --results "$RESULTS"
