#!/usr/bin/env bash
# Trains every architecture on MNIST and FashionMNIST for one epoch on 10,000 images, then checks
# that `fflib eval` reproduces each reported test accuracy from the saved model.
# Usage: scripts/smoke-all-models.sh [OUT_DIR]   (default: runs/smoke)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/smoke}"
status=0
printf "%-6s %-14s %10s %10s %8s\n" model dataset train_acc eval_acc seconds
for d in mnist fashion-mnist; do
  for m in ffnn ffc ffrnn bpnn; do
    dir="$out/$m-$d"
    mkdir -p "$out"
    start=$(date +%s.%N)
    "$root/fflib" train --model "$m" --dataset "$d" --epochs 1 --train-limit 10000 --test-limit 2000 --out "$dir" >/dev/null 2>"$dir.log" || { echo "$m $d: train failed (see $dir.log)"; status=1; continue; }
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    trained=$(grep -o '"test_accuracy": [0-9.eE-]*' "$dir/run.json" | head -n1 | awk '{print $2}')
    evald=$("$root/fflib" eval --model "$dir/model.safetensors" --test-limit 2000 --json | grep -o '"test_accuracy": [0-9.eE-]*' | awk '{print $2}')
    printf "%-6s %-14s %10s %10s %8.1f\n" "$m" "$d" "$trained" "$evald" "$secs"
    [ "$trained" = "$evald" ] || { echo "  mismatch!"; status=1; }
  done
done
exit $status
