#!/usr/bin/env bash
# `fflib reproduce paper --budget smoke` end to end: every table and figure of the paper is made
# (on the datasets this machine has) and index.md embeds each figure. Usage: scripts/paper-smoke-check.sh [DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)/paper}
./fflib reproduce paper --budget smoke --results "$dir" > "$dir.out" 2> "$dir.err" || { echo "paper-smoke: reproduce failed (exit $?)"; tail -n 20 "$dir.err"; exit 1; }
missing=0
need() { if [ ! -s "$dir/$1" ]; then echo "paper-smoke: missing $1"; missing=1; fi; }
for f in index.md report.md paper-comparison.md paper-comparison.csv table2.csv table3.csv table5.csv \
         fig13.png fig14_authors.png fig14_ours.png fig19-mnist/fig19.png; do need "$f"; done
for m in hoyer gini l1_entropy l2_entropy; do need "sparsity_training_$m.png"; need "sparsity_by_size_mnist_$m.png"; done
for a in bpnn ffnn ffc ffrnn; do need "heatmap_accuracy_${a}_200-200_mnist_$([ $a = bpnn ] && echo cross-entropy || echo loss-min).png"; done
# Every PNG is one (magic bytes) and every figure the index names exists.
for png in $(find "$dir" -maxdepth 2 -name '*.png'); do
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "paper-smoke: $png is not a PNG"; missing=1; }
done
for ref in $(grep -o '](\([^)]*\.png\))' "$dir/index.md" | sed 's/](\(.*\))/\1/'); do need "$ref"; done
for t in "Table 2" "Table 3" "Table 4" "Table 5"; do grep -q "### $t" "$dir/index.md" || { echo "paper-smoke: index.md has no $t"; missing=1; }; done
[ "$missing" -eq 0 ] && echo "paper-smoke: passed ($(grep -o 'took [0-9.]* min' "$dir/index.md"))"
exit $missing
