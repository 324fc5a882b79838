#!/usr/bin/env bash
# Checks that a change keeps cembed's outputs byte-identical (a refactor must): runs synth,
# prepare (criteo, avazu hashed, libfm with a ratio split and signatures, ml-100k CSV schema),
# train + checkpoint + eval of every method, ranking, plan, methods, a sweep and compare, and
# writes the sha256 of every output to OUT_DIR/sums.txt (timings, memory and paths removed
# from the JSON first; figures with speeds left out). Compare two builds:
#   bash scripts/output_sums.sh build/release /tmp/before   # on the old commit
#   bash scripts/output_sums.sh build/release /tmp/after    # on the new one
#   diff /tmp/before/sums.txt /tmp/after/sums.txt            # empty: the same bytes
# Needs ../shared/data (the real samples) beside the checkout. About 10 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(realpath "$1")/cembed; O=$2; D=$(realpath "$ROOT/../shared/data"); S=$ROOT/data/schemas
rm -rf "$O"; mkdir -p "$O"; cd "$O"
export OMP_WAIT_POLICY=PASSIVE
$B synth --out synth --train-rows 20000 --test-rows 5000 --scale 0.01 --seed 7 >/dev/null 2>&1
$B prepare --format criteo --train $D/criteo-kaggle-8k/train.csv --valid $D/criteo-kaggle-8k/dev.csv --test $D/criteo-kaggle-8k/test.csv --out criteo >/dev/null 2>&1
$B prepare --format avazu --train $D/avazu-9k/train.csv --test $D/avazu-9k/test.csv --out avazu --hash-buckets 5000 >/dev/null 2>&1
$B prepare --format libfm --train $D/frappe/frappe.validation.libfm --split ratio --test-fraction 0.2 --out frappe --signatures rows context >/dev/null 2>&1
$B prepare --format csv --schema $S/ml-100k.toml --train $D/ml-100k/ml-100k.inter --out ml >/dev/null 2>&1
for m in full hash qr cp:kind=crt,parts=3 path memcom robe lma md; do
  n=${m%%:*}; c="--compression 8"; [ $n = full ] && c=""
  $B train --train synth/train.cds --test synth/test.cds --embedding $m $c --max-steps 60 --eval-every 30 --checkpoint ck_$n.bin --report r_$n.json --quiet --optimizer adagrad --lr 0.01 --bottom 32,16,16 --top 32,1 >/dev/null 2>&1 || echo "train $m failed"
  $B eval --model ck_$n.bin --data synth/test.cds --report ev_$n.json > eval_$n.txt 2>&1 || echo "eval $m failed"
done
$B train --train ml/train.cds --test ml/test.cds --embedding hash --compression 4 --epochs 1 --ranking --report r_ml.json --quiet --bottom 16,16 --top 16,1 >/dev/null 2>&1 || echo "ml failed"
$B plan --data criteo/train.cds --embedding lma --compression 16 > plan_criteo.txt 2>&1 || echo "plan failed"
$B plan --data synth/train.cds --embedding qr --embedding-budget 1MiB > plan_synth.txt 2>&1 || echo "plan failed"
$B methods > methods.txt 2>&1
$B sweep --train synth/train.cds --test synth/test.cds --methods full,hash,lma --ratios 4 --max-steps 40 --out sweep --quiet >/dev/null 2>&1 || echo "sweep failed"
$B compare --train synth/train.cds --test synth/test.cds --runs full,qr@4 --max-steps 40 --out cmp.json > compare.txt 2>/dev/null || echo "compare failed"
# strip timing-like keys in json
/usr/bin/python3 - <<'PY'
import json, os, re
DROP = re.compile(r"(seconds|_s$|time|rss|throughput|per_s|per_second|build|rows_per|memory_available|date|elapsed|path|wall|peak|anonymous|samples)", re.I)
def clean(o):
    if isinstance(o, dict): return {k: clean(v) for k, v in o.items() if not DROP.search(k)}
    if isinstance(o, list): return [clean(v) for v in o]
    return o
for root, _, files in os.walk("."):
    for f in files:
        if f.endswith(".json"):
            p = os.path.join(root, f)
            try: d = json.load(open(p))
            except Exception: continue
            json.dump(clean(d), open(p + ".clean", "w"), indent=1, sort_keys=True)
PY
find . -type f ! -name '*.json' ! -name '*.png' ! -name 'sums.txt' ! -name 'compare.txt' ! -name '*.log' ! -name '*.svg' ! -name 'results.csv' ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum > sums.txt
