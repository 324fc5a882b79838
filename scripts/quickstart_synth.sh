# shellcheck shell=bash disable=SC2034
# Sourced by scripts/quickstart.sh and bench/dense_precision.sh: the quickstart's synthetic
# data, as `cembed synth` arguments. 26 features of 2000 values each, values numbered most
# frequent first (as prepare numbers a vocabulary) and popularity carrying signal, as on
# frappe and ml-100k, where the methods separate (docs/data.md, docs/results.md).
SYNTH=(--train-rows 200000 --test-rows 50000 --cardinality 2000 --zipf 0.8 --value-noise 1.2 --logit-scale 2.4
  --id-order frequency --group-by frequency --seed 42)
