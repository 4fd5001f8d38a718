#!/usr/bin/env bash
# Reproduces the CPU-captured spectra files in data/spectra/ (docs/spectra.md), one command per
# file, fixed seed, CPU (bit-reproducible for a seed), niced: the runs share the machine. One
# torch thread: on a shared, oversubscribed CPU two OpenMP threads wait at every barrier for a
# descheduled partner (measured 17x slower per step than one thread at load 16 on 2 cores).
#   tools/capture_all.sh            every CPU capture below
#   tools/capture_all.sh NAME...    only those (names as in the list, e.g. llama_d192_fortunes)
#   tools/capture_all.sh legacy     only re-label the five GPU-captured files (see docs/spectra.md)
# Prints each run's wall time. The inputs are Debian packages installed by tools/install-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3
capture="nice -n 10 $python tools/capture_spectra.py"
fit=data/spectra/fit
heldout=data/spectra/heldout
# Early, middle and late captures of a 300-step run.
at=5,10,20,40,80,150,300

declare -A runs=(
  # fitting set: corpora jargon, fortunes, python-stdlib, fashion-mnist
  [llama_d192_fortunes]="--model llama --d-model 192 --layers 4 --heads 6 --kv-heads 2
    --corpus fortunes --optimizer muon --steps 300 --seq-len 64 --batch-size 16
    --capture-at $at --out $fit/llama_d192_fortunes_muon.h5"
  [gpt_d128_python]="--model transformer --d-model 128 --layers 6 --heads 4
    --corpus python-stdlib --optimizer adamw --steps 300 --seq-len 64 --batch-size 16
    --capture-at $at --out $fit/gpt_d128_python_adamw.h5"
  [lstm_h192_jargon]="--model lstm --d-model 192 --layers 2 --embed-dim 64
    --corpus jargon --optimizer muon --steps 300 --seq-len 64 --batch-size 16
    --capture-at $at --out $fit/lstm_h192_jargon_muon.h5"
  [mlp_fashion_mnist_adamw]="--model mlp --optimizer adamw --steps 600 --batch-size 128
    --capture-at 10,20,40,80,150,300,600 --out $fit/mlp_fashion_mnist_adamw.h5"
  # held-out set: corpora debian-policy, focalinux; models never in the fitting set
  [llama_d256_policy]="--model llama --d-model 256 --layers 2 --heads 8 --kv-heads 2
    --corpus debian-policy --optimizer muon --steps 300 --seq-len 64 --batch-size 16
    --capture-at $at --out $heldout/llama_d256_policy_muon.h5"
  [gpt_d384_focalinux]="--model transformer --d-model 384 --layers 2 --heads 6
    --corpus focalinux --optimizer adamw --steps 300 --seq-len 64 --batch-size 8
    --capture-at $at --out $heldout/gpt_d384_focalinux_adamw.h5"
  [llama_d128_focalinux]="--model llama --d-model 128 --layers 4 --heads 4
    --corpus focalinux --optimizer muon --steps 300 --seq-len 64 --batch-size 16
    --capture-at $at --out $heldout/llama_d128_focalinux_muon.h5"
)
order=(llama_d192_fortunes gpt_d128_python lstm_h192_jargon mlp_fashion_mnist_adamw
       llama_d256_policy gpt_d384_focalinux llama_d128_focalinux)

# The five files captured on an H100 before this list existed (commands in their `command`
# attribute and in docs/spectra.md) predate the source attributes; these label them.
label_legacy() {
  local label="$python tools/capture_spectra.py label"
  $label $fit/transformer_jargon.h5 --model-id gpt-d256-l4-h4-mlp1024 --architecture gpt \
    --corpus jargon --optimizer muon
  $label $fit/transformer_jargon_late.h5 --model-id gpt-d256-l4-h4-mlp1024 --architecture gpt \
    --corpus jargon --optimizer muon
  $label $fit/transformer_d512_jargon.h5 --model-id gpt-d512-l4-h8-mlp2048 --architecture gpt \
    --corpus jargon --optimizer muon
  $label $fit/mlp_fashion_mnist.h5 --model-id mlp-784-512-256-10 --architecture mlp \
    --corpus fashion-mnist --optimizer muon
  $label $fit/cnn_fashion_mnist.h5 --model-id cnn-32-64-64-fc128 --architecture cnn \
    --corpus fashion-mnist --optimizer muon
}

if [ "${1:-}" = legacy ]; then
  label_legacy
  exit 0
fi
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${order[@]}")
for name in "${selected[@]}"; do
  if [ -z "${runs[$name]:-}" ]; then
    echo "capture_all: unknown run '$name' (${order[*]})" >&2
    exit 2
  fi
  start=$(date +%s)
  # shellcheck disable=SC2086  # the run's options are meant to split on whitespace
  $capture train --seed 0 --threads 1 ${runs[$name]}
  echo "capture_all: $name took $(($(date +%s) - start)) s"
done
