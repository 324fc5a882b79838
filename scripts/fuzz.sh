#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan + UBSan) and runs each for a bounded time
# (default 20 s) from seed inputs: real-format lines, a small valid dataset and signature
# file written by cembed itself, and gzip/zstd streams. A crash, leak or sanitizer report
# fails the script and leaves the input that caused it in build/fuzz/artifacts/.
#   bash scripts/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
SEEDS=build/fuzz/seeds
ART=build/fuzz/artifacts
rm -rf "$SEEDS" && mkdir -p "$SEEDS"/{text,lines,dataset,signatures,model} "$ART"
# Text lines of each format.
printf '1\t5\t\t3\t-1\t1\t2\t3\t4\t5\t6\t7\t8\t9\t68fd1e64\t\t0000000a\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t14\t15\t16\t17\t18\t19\t20\t21\t22\t23\n' > "$SEEDS/text/criteo"
printf 'id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n1,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79\n' > "$SEEDS/text/avazu"
printf '1 0:1 10:1 20:1\n-1 1:1 11:1 21:1\n' > "$SEEDS/text/libfm"
cp "$SEEDS"/text/* "$SEEDS/lines/"
gzip -c "$SEEDS/text/criteo" > "$SEEDS/lines/criteo.gz"
zstd -q -c "$SEEDS/text/avazu" > "$SEEDS/lines/avazu.zst" 2>/dev/null || true
# A small valid dataset and its signatures, from the release build when there is one.
if [ -x build/release/cembed ]; then
  build/release/cembed synth --out build/fuzz/tiny --train-rows 40 --test-rows 10 --cardinality 5 >/dev/null
  build/release/cembed signatures --data build/fuzz/tiny/train.cds >/dev/null
  cp build/fuzz/tiny/train.cds "$SEEDS/dataset/"
  cp build/fuzz/tiny/train.rows.sig "$SEEDS/signatures/"
  # Exported models: lma in int8 (dim 4: its placement kept as each value's blocks) and in
  # fp32 (dim 16: as each value's minhashes), hash in fp16 and fp32 (read in place).
  for spec in lma hash; do
    build/release/cembed train --train build/fuzz/tiny/train.cds --embedding $spec --compression 2 --small-threshold 2 --dim 4 \
      --bottom 4,4 --top 4,1 --epochs 1 --threads 1 --quiet --checkpoint build/fuzz/tiny/$spec.ckpt >/dev/null
  done
  build/release/cembed train --train build/fuzz/tiny/train.cds --embedding lma --compression 2 --small-threshold 2 --dim 16 \
    --bottom 4,16 --top 4,1 --epochs 1 --threads 1 --quiet --checkpoint build/fuzz/tiny/lma16.ckpt >/dev/null
  build/release/cembed export build/fuzz/tiny/lma.ckpt --out "$SEEDS/model/lma.cem" --precision int8 >/dev/null
  build/release/cembed export build/fuzz/tiny/lma16.ckpt --out "$SEEDS/model/lma16.cem" --precision fp32 >/dev/null
  build/release/cembed export build/fuzz/tiny/hash.ckpt --out "$SEEDS/model/hash.cem" --precision fp16 >/dev/null
  build/release/cembed export build/fuzz/tiny/hash.ckpt --out "$SEEDS/model/hash32.cem" --precision fp32 >/dev/null
fi
run() {  # target corpus
  echo "fuzz: $1 for ${SECONDS_PER_TARGET}s"
  mkdir -p "build/fuzz/corpus/$1"
  "build/fuzz/fuzz/$1" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
    -artifact_prefix="$ART/$1-" -print_final_stats=0 "build/fuzz/corpus/$1" "$SEEDS/$2" 2>&1 | tail -n 3
  test "${PIPESTATUS[0]}" -eq 0
}
run fuzz_text_formats text
run fuzz_line_reader lines
run fuzz_dataset dataset
run fuzz_signatures signatures
run fuzz_model_file model
echo "fuzz: no crash in ${SECONDS_PER_TARGET}s per target"
