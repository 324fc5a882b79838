#!/usr/bin/env bash
# The main job on the built-in data: builds cembed, writes the synthetic Criteo-shaped
# dataset (once), trains DLRM with full tables and with the hashing trick at 16x less
# embedding memory, and prints method, embedding bytes, test AUC, log loss and samples/s.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
DATA=out/quickstart
if [ ! -f "$DATA/synthetic.json" ]; then
  ./build/release/cembed synth --out "$DATA" --train-rows 500000 --test-rows 100000 --scale 0.01 --seed 42
fi
./build/release/cembed compare --train "$DATA/train.cds" --test "$DATA/test.cds" \
  --runs full,hash@16 --batch-size 128 --lr 0.1 --threads 2 --out "$DATA/results.json" "$@"
echo "reports: $DATA/results.json; AUC ceiling of the data: $DATA/synthetic.json (test.bayes_auc)"
