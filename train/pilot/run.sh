#!/usr/bin/env bash
# Model v3 pilot: train one candidate design for STEPS steps on the shared recipe (same data stream
# and seed for every candidate, constant learning rate after warm-up, EMA, bf16 where native).
# Candidates differ only in architecture; all cost <= 10.8 GFLOP per 10 -> 10 prediction
# (tests/test_v3_layers.py; benchmarks/run.py's gflop_per_prediction). Equal steps at equal FLOPs is
# equal compute, whatever else the machine is doing.
#   bash train/pilot/run.sh CANDIDATE [STEPS=600] [THREADS=1] [more train.py flags, which win]
#   CANDIDATE: a_control (v2's design) | b_patch8 (v3's design, the winner)
# (The pilot also ran c_dilated, d_twoscale and e_v2coarse; those designs were removed from framepred
# after commit f8f6d61, where this script still runs them.)
# The winner's long run continues its pilot with the same recipe, e.g.
#   bash train/pilot/run.sh b_patch8 100000 2 --resume runs/pilot/b_patch8/checkpoints/last.ckpt \
#       --val-every 500 --export runs/v3-export
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 steps=${2:-600} threads=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
# Each flag of the shared recipe is given below, so that it is the same for every candidate whatever
# the presets' own recipes (train/train.py RECIPES) say.
case $name in
  a_control)  arch=(--preset v2) lr=1e-3 ;;
  b_patch8)   arch=(--preset v3) lr=1e-3 ;;
  *) echo "unknown candidate $name" >&2; exit 2 ;;
esac
precision=32-true
python -c "import sys; from framepred.inference import native_bf16; sys.exit(0 if native_bf16() else 1)" \
  && precision=bf16-mixed
exec python train/train.py "${arch[@]}" --precision "$precision" --threads "$threads" --batch-size 16 \
  --lr "$lr" --schedule wsd --max-steps 300000 --stop-at "$steps" --warmup-steps 300 \
  --decay-steps 1000 --teacher-forcing-steps 0 --ema-decay 0.999 --data mixed --val-every 150 --seed 0 \
  --run-dir runs/pilot --name "$name" --export "runs/pilot/$name-export" --no-progress "$@"
