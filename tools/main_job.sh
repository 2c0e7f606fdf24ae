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
# MPII's protocol gives each person's rough location (center/scale) at test
# time: take that person box from the annotation file through the dataset.
"$PY" - "$IMAGE" "$WORK_DIR/demo_bboxes.json" <<'PYEOF'
import json, os, sys
import hourglass_plugin  # noqa: F401
from mmpose.registry import DATASETS
dataset = DATASETS.build(dict(
    type='MPIIPoseDataset', data_root='data/', data_prefix=dict(img='images/'),
    ann_file='annotations/mpii_val.json', test_mode=True, pipeline=[]))
infos = [dataset.get_data_info(i) for i in range(len(dataset))]
boxes = [info['bbox'][0].tolist() for info in infos
         if os.path.samefile(info['img_path'], sys.argv[1])]
json.dump(boxes, open(sys.argv[2], 'w'))
print(f'{len(boxes)} annotated person box(es) for {sys.argv[1]}: {boxes}')
PYEOF
"$PY" tools/topdown_demo.py "$IMAGE" --pose-config "$CONFIG" --pose-checkpoint "$CKPT" \
    --bboxes "$WORK_DIR/demo_bboxes.json" --radius 8 --thickness 4 --out-dir "$WORK_DIR/demo"

echo "== outputs"
ls -l "$CKPT" "$WORK_DIR/metrics.json" "$WORK_DIR/curves.png" "$WORK_DIR/demo"
