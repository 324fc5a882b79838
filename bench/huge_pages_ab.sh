#!/usr/bin/env bash
# Huge pages for the embedding tables (util/aligned_vector.h) on and off, in interleaved
# pairs on the same data: DLRM in the Criteo-Kaggle shape (26 tables x ROWS rows, dim 16,
# SGD), batch 128 and 2048. Prints samples/s of each run, then per batch the median ratio
# on/off over the pairs and its spread (min..max).
#   bash bench/huge_pages_ab.sh [pairs=5] [rows per table=1000000] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-5}; ROWS=${2:-1000000}; THREADS=${3:-2}
B=build/release/cembed
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
$B synth --out "$D" --train-rows 300000 --test-rows 1000 --cardinality "$ROWS" --threads "$THREADS" >/dev/null
rate() {  # huge-pages batch steps -> samples/s
  CEMBED_HUGE_PAGES=$1 $B train --train "$D/train.cds" --embedding full --dim 16 --bottom 512,256,64,16 \
    --top 512,256,1 --optimizer sgd --lr 0.1 --batch-size "$2" --max-steps "$3" --threads "$THREADS" \
    --report "$D/r.json" --quiet >/dev/null
  /usr/bin/python3 -c "import json; print(json.load(open('$D/r.json'))['train']['samples_per_second'])"
}
grep -m1 "model name" /proc/cpuinfo; grep -o '\[[a-z]*\]' /sys/kernel/mm/transparent_hugepage/enabled | sed 's/^/THP: /'
for batch_steps in "128 600" "2048 60"; do
  set -- $batch_steps; batch=$1; steps=$2; ratios=()
  for ((i = 0; i < PAIRS; i++)); do
    if ((i % 2 == 0)); then off=$(rate 0 $batch $steps); on=$(rate 1 $batch $steps)
    else on=$(rate 1 $batch $steps); off=$(rate 0 $batch $steps); fi
    ratios+=("$(/usr/bin/python3 -c "print($on / $off)")")
    printf 'batch %5d pair %d: off %8.0f  on %8.0f samples/s\n' "$batch" "$i" "$off" "$on"
  done
  /usr/bin/python3 -c "
import statistics, sys
r = sorted(map(float, sys.argv[2:]))
print(f'batch {sys.argv[1]:>5}: huge pages on/off median {statistics.median(r):.2f}x (spread {r[0]:.2f}..{r[-1]:.2f}, {len(r)} pairs)')
" "$batch" "${ratios[@]}"
done
