#!/usr/bin/env bash
# The main job on the built-in data: builds cembed, writes a synthetic Criteo-shaped dataset
# (once per settings), and sweeps every embedding method at 4x, 16x and 64x less embedding memory than
# full tables (DLRM's Criteo Kaggle model with Adagrad lr 0.01, batch 128, one epoch; with
# DLRM's SGD lr 0.1 the embeddings barely move in one epoch on synthetic data). Prints test
# AUC and log loss per method and ratio, and writes results and plots to out/quickstart/sweep.
# Extra arguments go to `cembed sweep` (e.g. --ratios 2,8 or --methods full,hash,lma).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
# The build's output goes to a log; on failure its tail is printed (ninja writes errors to stdout).
if ! bash scripts/build.sh >out/build.log 2>&1; then
  tail -n 40 out/build.log >&2
  echo "quickstart: the build failed; its whole output is in out/build.log" >&2
  exit 1
fi
DATA=out/quickstart
# The data's settings (SYNTH). Data written with other settings (an older quickstart's) is
# rewritten, and its sweep restarted.
source scripts/quickstart_synth.sh
if [ ! -f "$DATA/synthetic.json" ] || [ "$(cat "$DATA/synth.args" 2>/dev/null)" != "${SYNTH[*]}" ]; then
  rm -rf "$DATA/sweep" "$DATA/synth.args"
  ./build/release/cembed synth --out "$DATA" "${SYNTH[@]}"
  echo "${SYNTH[*]}" >"$DATA/synth.args"
fi
./build/release/cembed sweep --train "$DATA/train.cds" --test "$DATA/test.cds" \
  --methods full,hash,qr,cp:kind=crt,parts=3,path,memcom,robe,lma --ratios 4,16,64 \
  --optimizer adagrad --lr 0.01 --batch-size 128 --threads 2 --out "$DATA/sweep" "$@"
echo "plot: $DATA/sweep/auc_vs_bytes.png (test AUC against embedding bytes); AUC ceiling of the data: $DATA/synthetic.json (test.bayes_auc)"
