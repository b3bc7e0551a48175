#!/usr/bin/env bash
# Model v3 pilot: train one candidate design for STEPS steps on the shared recipe (same data stream
# and seed for every candidate, constant learning rate after warm-up, EMA, bf16 where native).
# Candidates differ only in architecture; all cost <= 10.8 GFLOP per 10 -> 10 prediction
# (benchmarks/run.py --flops-only). Equal steps at equal FLOPs is equal compute, whatever else the
# machine is doing.
#   bash train/pilot/run.sh CANDIDATE [STEPS=600] [THREADS=1] [more train.py flags, which win]
#   CANDIDATE: a_control | b_patch8 | c_dilated | d_twoscale | e_v2coarse
# The winner's long run continues its pilot with the same recipe, e.g.
#   bash train/pilot/run.sh b_patch8 100000 2 --resume runs/pilot/b_patch8/checkpoints/last.ckpt \
#       --val-every 500 --export runs/v3-export
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 steps=${2:-600} threads=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
case $name in
  a_control)  arch=(--preset default) lr=1e-3 ;;
  b_patch8)   arch=(--preset default --patch-size 8 --hidden-dims 128 128 128 128) lr=1e-3 ;;
  c_dilated)  arch=(--preset default --dilations 1 2 2 1) lr=1e-3 ;;
  d_twoscale) arch=(--preset default --hidden-dims 64 128 128 64 --scales 1 2 2 1) lr=1e-3 ;;
  # v2 as trained (16 CPU-hours) plus a zero coarse branch: starts out predicting exactly as v2,
  # at v2's own stable learning rate.
  e_v2coarse) arch=(--preset default --coarse 4 --init-from checkpoints/v2 --add-coarse 4) lr=4e-4 ;;
  *) echo "unknown candidate $name" >&2; exit 2 ;;
esac
precision=32-true
python -c "import sys; from framepred.inference import native_bf16; sys.exit(0 if native_bf16() else 1)" \
  && precision=bf16-mixed
exec python train/train.py "${arch[@]}" --precision "$precision" --threads "$threads" --batch-size 16 \
  --lr "$lr" --schedule wsd --max-steps 300000 --stop-at "$steps" --warmup-steps 300 \
  --teacher-forcing-steps 0 --ema-decay 0.999 --val-every 150 --seed 0 \
  --run-dir runs/pilot --name "$name" --export "runs/pilot/$name-export" --no-progress "$@"
