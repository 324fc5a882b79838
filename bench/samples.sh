# shellcheck shell=bash disable=SC2034
# Sourced by the benchmark scripts that train on ../shared/data's samples (bench/sweeps.sh,
# bench/dense_precision.sh): where the binary, the samples and the prepared data are, the
# model the real-data results use, and how each sample is prepared.
#
#   SHARED=/elsewhere/data   the samples (default ../shared/data)
#   DATA=/elsewhere          prepared data read from (and prepared into) /elsewhere (default out/data)
B=./build/release/cembed
SHARED=${SHARED:-../shared/data}
DATA=${DATA:-out/data}
mkdir -p "$DATA"

# DLRM as in docs/results.md's real-data table: small MLPs, Adagrad, one epoch in file order.
REAL_MODEL="--dim 16 --bottom 64,16 --top 64,32,1 --optimizer adagrad --lr 0.01 --batch-size 128 --no-shuffle --threads 2"

# The samples, by name.
SAMPLES="criteo-kaggle-8k avazu-9k frappe ml-100k"

# Prepares sample $1 into $DATA/$1 (once).
prepare_sample() {
  local d=$DATA/$1
  [ -f "$d/train.cds" ] && return 0
  case "$1" in
    criteo-kaggle-8k)
      $B prepare --format criteo --train "$SHARED/$1/train.csv" --test "$SHARED/$1/test.csv" --out "$d" >/dev/null ;;
    avazu-9k)
      $B prepare --format avazu --train "$SHARED/$1/train.csv" --test "$SHARED/$1/test.csv" --out "$d" >/dev/null ;;
    frappe)
      $B prepare --format libfm --train "$SHARED/frappe/frappe.validation.libfm" \
        --test "$SHARED/frappe/frappe.test.libfm" --out "$d" >/dev/null ;;
    ml-100k)
      $B prepare --format csv --schema data/schemas/ml-100k.toml --train "$SHARED/ml-100k/ml-100k.inter" \
        --out "$d" >/dev/null ;;
    *)
      echo "unknown sample $1" >&2
      return 2 ;;
  esac
}
