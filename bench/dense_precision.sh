#!/usr/bin/env bash
# Does bf16 change the model? fp32 against bf16 dense layers (--dense-precision) on every
# sample in ../shared/data and on the quickstart's synthetic data: test AUC and log loss of
# full tables and of LMA at 16x, seeds 1-3. Prints a Markdown table (docs/benchmarks.md,
# "bf16 dense layers"; speed is bench_gemm's and bench/dlrm_vs_torch.py's).
#
#   bash bench/dense_precision.sh            # about 10 minutes on 2 cores
#   DATA=/elsewhere bash bench/dense_precision.sh   prepared data read from (and prepared into) /elsewhere
#
# The real samples train as in docs/results.md's real-data table (bench/sweeps.sh: small
# MLPs, Adagrad, one epoch in file order, batch 128; ml-100k three epochs); the synthetic
# data as the quickstart (DLRM's Criteo Kaggle MLPs, Adagrad, batch 128, one epoch).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/samples.sh
source scripts/quickstart_synth.sh
OUT=out/dense_precision
mkdir -p "$OUT"

for sample in $SAMPLES; do prepare_sample "$sample"; done
if [ ! -f "$DATA/quickstart/train.cds" ]; then
  $B synth --out "$DATA/quickstart" "${SYNTH[@]}" >/dev/null
fi

run() {  # data method-name precision seed args...
  local data=$1 name=$2 precision=$3 seed=$4
  shift 4
  local report=$OUT/$data.$name.$precision.$seed.json
  if [ ! -f "$report" ]; then
    $B train --train "$DATA/$data/train.cds" --test "$DATA/$data/test.cds" --seed "$seed" \
      --dense-precision "$precision" --quiet --report "$report.tmp" "$@" >/dev/null
    mv "$report.tmp" "$report"
  fi
}

for seed in 1 2 3; do
  for precision in fp32 bf16; do
    for data in $SAMPLES; do
      epochs=1
      [ "$data" = ml-100k ] && epochs=3
      # shellcheck disable=SC2086
      run "$data" full "$precision" "$seed" --embedding full --epochs "$epochs" $REAL_MODEL --small-threshold 20
      # shellcheck disable=SC2086
      run "$data" lma16 "$precision" "$seed" --embedding lma --compression 16 --epochs "$epochs" $REAL_MODEL --small-threshold 20
    done
    run quickstart full "$precision" "$seed" --embedding full --optimizer adagrad --lr 0.01 --threads 2
  done
done

/usr/bin/python3 - "$OUT" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]
runs = {}
for name in sorted(os.listdir(out)):
    if not name.endswith(".json"):
        continue
    data, method, precision, seed, _ = name.rsplit(".", 4)
    with open(os.path.join(out, name)) as f:
        r = json.load(f)
    runs.setdefault((data, method), {}).setdefault(precision, {})[int(seed)] = (
        r["test"]["auc"], r["test"]["logloss"], r["build"]["bf16_gemm"])
print("| data | tables | fp32 AUC | bf16 AUC | bf16 - fp32 (per seed) | fp32 log loss | bf16 log loss |")
print("|---|---|---:|---:|---|---:|---:|")
for (data, method), p in runs.items():
    seeds = sorted(set(p.get("fp32", {})) & set(p.get("bf16", {})))
    if not seeds:
        continue
    mean = lambda prec, i: statistics.mean(p[prec][s][i] for s in seeds)
    diffs = ", ".join(f"{p['bf16'][s][0] - p['fp32'][s][0]:+.4f}" for s in seeds)
    print(f"| {data} | {method} | {mean('fp32', 0):.4f} | {mean('bf16', 0):.4f} | {diffs} | "
          f"{mean('fp32', 1):.4f} | {mean('bf16', 1):.4f} |")
paths = {run[2] for p in runs.values() for run in p.get("bf16", {}).values()}
print(f"\nbf16 GEMM: {', '.join(sorted(paths))}; {len(seeds)} seeds")
EOF
