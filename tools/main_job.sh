#!/usr/bin/env bash
# The product's main job on the embedded MPII sample (data/), end to end:
#   1. train a small stacked hourglass through mmengine's Runner (tools/train.py),
#      validating PCKh on data/ as it goes;
#   2. print/plot the loss and PCKh curves (work_dirs/main_job/curves.png);
#   3. evaluate the final checkpoint (tools/test.py: PCKh table, pred.mat);
#   4. run top-down pose inference with that checkpoint on a real image
#      (tools/topdown_demo.py: PNG with skeleton + JSON of keypoints).
# Usage: bash tools/main_job.sh [CONFIG] [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${1:-configs/sample/newell_hourglass2_sample_128.py}"
WORK_DIR="${2:-work_dirs/main_job}"
IMAGE="data/images/005808361.jpg"

echo "== [1/4] train $CONFIG on data/ -> $WORK_DIR"
rm -rf "$WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT="$(cat "$WORK_DIR/last_checkpoint")"

echo "== [2/4] loss and PCKh over the run"
"$PY" tools/plot_curves.py "$WORK_DIR"

echo "== [3/4] evaluate $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --out "$WORK_DIR/metrics.json" --pred-mat "$WORK_DIR/pred.mat"
"$PY" tools/eval_mpii.py "$WORK_DIR/pred.mat" --gt data/annotations/mpii_gt_val.mat

echo "== [4/4] top-down inference on $IMAGE"
"$PY" tools/topdown_demo.py "$IMAGE" --pose-config "$CONFIG" --pose-checkpoint "$CKPT" \
    --out-dir "$WORK_DIR/demo"

echo "== outputs"
ls -l "$CKPT" "$WORK_DIR/metrics.json" "$WORK_DIR/curves.png" "$WORK_DIR/demo"
