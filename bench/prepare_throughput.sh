#!/usr/bin/env bash
# Throughput of `cembed prepare` on Criteo text (issue 3's benchmark): a synthetic
# Criteo-format file of a few GB written by `cembed synth --format criteo`, prepared
# `runs` times with 2 threads and once with 1, beside a reference from the same session:
# reading the same file and counting its lines (`wc -l`, the floor of any text pass).
#
#   bash bench/prepare_throughput.sh [rows (8000000)] [runs (3)]
#
# The text (2.1 GB for 8 M rows) is kept in $WORK (default /tmp/cembed_prepare_bench) and
# reused; the prepared outputs are removed after each run. Prints MB/s per run, the median,
# and its ratio to the 150 MB/s target and to the `wc -l` rate.
set -euo pipefail
cd "$(dirname "$0")/.."
B=./build/release/cembed
ROWS=${1:-8000000}
RUNS=${2:-3}
WORK=${WORK:-/tmp/cembed_prepare_bench}
TEXT=$WORK/text_$ROWS
mkdir -p "$WORK"
[ -x "$B" ] || bash scripts/build.sh >/dev/null
if [ ! -f "$TEXT/train.txt" ]; then
  echo "writing $ROWS rows of synthetic Criteo text to $TEXT ..."
  $B synth --format criteo --out "$TEXT" --train-rows "$ROWS" --test-rows 1000 --scale 0.05 >/dev/null
fi
BYTES=$(stat -c %s "$TEXT/train.txt")
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.0f", b / 1e6 }')
seconds() { /usr/bin/time -f "%e" "$@" 2>&1 >/dev/null | tail -1; }

cat "$TEXT/train.txt" >/dev/null  # the file in the page cache for every run alike
WC=$(seconds wc -l "$TEXT/train.txt")
echo "file: $TEXT/train.txt, $MB MB; wc -l: $WC s ($(awk -v m="$MB" -v s="$WC" 'BEGIN { printf "%.0f", m / s }') MB/s)"

rates=()
for r in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/prepared"
  sync
  s=$(seconds $B prepare --format criteo --train "$TEXT/train.txt" --out "$WORK/prepared" --threads 2)
  rate=$(awk -v m="$MB" -v s="$s" 'BEGIN { printf "%.0f", m / s }')
  rates+=("$rate")
  echo "prepare, 2 threads, run $r: $s s, $rate MB/s"
done
rm -rf "$WORK/prepared"
sync
s1=$(seconds $B prepare --format criteo --train "$TEXT/train.txt" --out "$WORK/prepared" --threads 1)
echo "prepare, 1 thread: $s1 s, $(awk -v m="$MB" -v s="$s1" 'BEGIN { printf "%.0f", m / s }') MB/s"
rm -rf "$WORK/prepared"

median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
awk -v m="$median" -v mb="$MB" -v wc="$WC" 'BEGIN {
  printf "median %d MB/s with 2 threads: %.2fx the 150 MB/s target, %.2fx the wc -l rate\n", m, m / 150, m / (mb / wc)
}'
