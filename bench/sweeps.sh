#!/usr/bin/env bash
# The sweeps behind docs/results.md: every method at several memory ratios on the synthetic
# data and on each sample in ../shared/data (prepared by bench/samples.sh with `cembed prepare`;
# SHARED=/elsewhere/data reads the samples from elsewhere).
#
#   bash bench/sweeps.sh [synthetic] [criteo-kaggle-8k] [avazu-9k] [frappe] [ml-100k]   (default: all)
#   bash bench/sweeps.sh new-frappe new-ml-100k new-frappe-variants   hot and cce against the
#                                                   seeds, 16x-1000x, and their settings
#   bash bench/sweeps.sh sketch-frappe sketch-criteo-kaggle-8k sketch-avazu-9k   hot's values
#                                                   found by the sketch vs prepare's counts
#   DATA=/elsewhere bash bench/sweeps.sh ...        prepared data read from (and prepared into)
#                                                   /elsewhere instead of out/data
#
# Results, tables and plots go to out/sweeps/<data>/ (results.md, auc_vs_bytes.png, ...).
# A sweep that is interrupted resumes where it stopped when run again.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/samples.sh
OUT=out/sweeps
mkdir -p "$OUT"

METHODS="full,hash,qr,qr:op=add,qr:op=concat,cp:parts=3,cp:kind=crt,parts=3,path,memcom,memcom:bias=scalar,robe,robe:block=1,lma,lma:k=1,lma:block=8,lma:signature=context,md"

run_synthetic() {
  local d=$DATA/synthetic
  if [ ! -f "$d/train.cds" ]; then
    $B synth --out "$d" --train-rows 500000 --test-rows 100000 --scale 0.01 --seed 42 >/dev/null
  fi
  # DLRM's Criteo Kaggle model with Adagrad lr 0.01, batch 128, one epoch (with DLRM's SGD
  # lr 0.1 the embeddings barely move in one epoch on this data: every method ties).
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "$METHODS" --ratios 4,16,64 \
    --optimizer adagrad --lr 0.01 --batch-size 128 --threads 2 --quiet --out "$OUT/synthetic"
}

run_real() {  # sample name
  prepare_sample "$1"
  # Features below 20 values keep full tables (200 would leave almost nothing to compress
  # in samples of a few thousand rows); three seeds, since differences are small here.
  $B sweep --train "$DATA/$1/train.cds" --test "$DATA/$1/test.cds" --methods "$METHODS" \
    --ratios 2,4,8,16,64,256 --seeds 1,2,3 --small-threshold 20 $REAL_MODEL --quiet --out "$OUT/$1"
}

run_ml100k() {
  local d=$DATA/ml-100k
  prepare_sample ml-100k
  # Click (rating >= 4) and ranking (each user's latest positive among 100 unseen items).
  # MEmCom's ratios from its paper (4x, 12x, 16x, 40x) beside the others'.
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "$METHODS" --ratios 2,4,12,16,40 \
    --seeds 1,2 --small-threshold 20 $REAL_MODEL --epochs 3 --ranking --quiet --out "$OUT/ml-100k"
}

# The methods after the seeds (issue 16): CAFE's hot/cold hybrid over hash, QR and LMA, CCE,
# and CCE without reclustering (times=0: the same tables on hashes alone), beside the seed
# methods they are measured against (docs/results.md, "Beyond the seeds"). 16x and 64x as the
# sweeps above (features below 20 values keep full tables); 256x and 1000x compress every
# feature of 2 values or more (the small features' full tables alone exceed those budgets).
NEW_METHODS="full,hash,qr,lma,hot,hot:cold=qr,hot:cold=lma,cce,cce:times=0"

run_new_methods() {  # name: frappe | ml-100k
  local d=$DATA/$1 extra=""
  prepare_sample "$1"
  [ "$1" = ml-100k ] && extra="--epochs 3"
  local seeds=1,2,3
  [ "$1" = ml-100k ] && seeds=1,2
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "$NEW_METHODS" --ratios 16,64 --seeds $seeds \
    --small-threshold 20 $REAL_MODEL $extra --quiet --no-plot --out "$OUT/new-$1"
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "${NEW_METHODS#full,}" --ratios 256,1000 \
    --seeds $seeds --small-threshold 2 $REAL_MODEL $extra --quiet --no-plot --out "$OUT/new-$1-all-compressed"
}

# hot with its hot values found while training by the sketch (find=sketch) against the same
# wrapper with prepare's counts (find=counts, the default) and its cold method alone, over
# hash and QR (docs/results.md, "Hot values found while training"). 16x and 64x as above;
# 256x compresses every feature of 2 values or more.
SKETCH_METHODS="hash,hot,hot:find=sketch,qr,hot:cold=qr,hot:cold=qr,find=sketch"

run_sketch() {  # sample name
  prepare_sample "$1"
  local d=$DATA/$1
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "$SKETCH_METHODS" --ratios 16,64 --seeds 1,2,3 \
    --small-threshold 20 $REAL_MODEL --quiet --no-plot --out "$OUT/sketch-$1"
  $B sweep --train "$d/train.cds" --test "$d/test.cds" --methods "$SKETCH_METHODS" --ratios 256 --seeds 1,2,3 \
    --small-threshold 2 $REAL_MODEL --quiet --no-plot --out "$OUT/sketch-$1-all-compressed"
}

# Their settings on frappe: hot's budget share, cce's columns and reclustering schedule.
run_new_variants() {
  prepare_sample frappe
  $B sweep --train $DATA/frappe/train.cds --test $DATA/frappe/test.cds \
    --methods "hot:share=0.25,hot:share=0.75,hot:cold=qr,share=0.25,cce:cols=1,cce:cols=4,cce:every=50,times=8,cce:every=150,times=2,cce:cols=4,every=50,times=8" \
    --ratios 16,64 --seeds 1,2,3 --small-threshold 20 $REAL_MODEL --quiet --no-plot --out "$OUT/new-frappe-variants"
}

targets=("$@")
# shellcheck disable=SC2206
[ ${#targets[@]} -eq 0 ] && targets=(synthetic $SAMPLES)
for t in "${targets[@]}"; do
  echo "== $t"
  case "$t" in
    synthetic) run_synthetic ;;
    criteo-kaggle-8k | avazu-9k | frappe) run_real "$t" ;;
    ml-100k) run_ml100k ;;
    new-frappe) run_new_methods frappe ;;
    new-ml-100k) run_new_methods ml-100k ;;
    new-frappe-variants) run_new_variants ;;
    sketch-frappe | sketch-criteo-kaggle-8k | sketch-avazu-9k) run_sketch "${t#sketch-}" ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
