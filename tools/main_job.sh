#!/usr/bin/env bash
# The product's main job on the embedded real data (data/), end to end:
#   1. train a small stacked hourglass through mmengine's Runner (tools/train.py)
#      on the 5-person MPII sample, validating PCKh on it as it goes;
#   2. print/plot the loss and PCKh curves (work_dirs/main_job/curves.png);
#   3. evaluate the final checkpoint (tools/test.py: PCKh table, pred.mat) and
#      re-score pred.mat with tools/eval_mpii.py;
#   4. top-down inference with that checkpoint (tools/topdown_demo.py): the MPII
#      image with its annotated person box, and the 4 COCO multi-person images
#      with the embedded real person-detector results (--det-json); one PNG
#      (skeletons + boxes) and one JSON per image.
# The console shows a few lines per stage (mmengine's ETA every 10 epochs, the
# PCKh of each validation); each stage's full log is in $WORK_DIR/logs/.
# Usage: bash tools/main_job.sh [CONFIG] [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CONFIG="${1:-configs/sample/newell_hourglass2_sample_128.py}"
WORK_DIR="${2:-work_dirs/main_job}"
MPII_IMAGE="data/images/005808361.jpg"
COCO_DIR="data/coco_multi"
LOGS="$WORK_DIR/logs"

# run_stage LOG PATTERN CMD...: full output to LOG, lines matching PATTERN to
# the console; on failure the end of LOG and the command's exit code.
run_stage() {
  local log="$1" pattern="$2" rc
  shift 2
  set +e
  "$@" 2>&1 | tee "$log" | grep --line-buffered -E "$pattern"
  rc=${PIPESTATUS[0]}
  set -e
  if [[ $rc -ne 0 ]]; then
    echo "!! failed (exit $rc): $*" >&2
    echo "!! last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit "$rc"
  fi
}

rm -rf "$WORK_DIR"
mkdir -p "$LOGS"

echo "== [1/4] train $CONFIG on data/ -> $WORK_DIR (log: $LOGS/train.log)"
run_stage "$LOGS/train.log" \
  'Epoch\(train\) +\[[0-9]*0\]\[1/|Epoch\(val\).* PCK: |Error|Traceback' \
  "$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT="$(cat "$WORK_DIR/last_checkpoint")"

echo "== [2/4] loss and PCKh over the run -> $WORK_DIR/curves.png"
"$PY" tools/plot_curves.py "$WORK_DIR" > "$LOGS/curves.log"
head -n 3 "$LOGS/curves.log"; echo "   ..."; tail -n 2 "$LOGS/curves.log"

echo "== [3/4] evaluate $CKPT (log: $LOGS/test.log)"
run_stage "$LOGS/test.log" 'Epoch\(test\).* PCK: |Error|Traceback' \
  "$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --out "$WORK_DIR/metrics.json" --pred-mat "$WORK_DIR/pred.mat"
"$PY" tools/eval_mpii.py "$WORK_DIR/pred.mat" --gt data/annotations/mpii_gt_val.mat

echo "== [4/4] top-down inference -> $WORK_DIR/demo (log: $LOGS/demo.log)"
# MPII's protocol gives each person's rough location (center/scale) at test
# time: take that person box from the annotation file through the dataset.
"$PY" -W ignore - "$MPII_IMAGE" "$WORK_DIR/mpii_bboxes.json" <<'PYEOF'
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
print(f'   {sys.argv[1]}: {len(boxes)} annotated person box(es)')
PYEOF
run_stage "$LOGS/demo.log" 'results written|Error|Traceback' \
  "$PY" tools/topdown_demo.py "$MPII_IMAGE" --pose-config "$CONFIG" \
    --pose-checkpoint "$CKPT" --bboxes "$WORK_DIR/mpii_bboxes.json" \
    --radius 8 --thickness 4 --out-dir "$WORK_DIR/demo"
# COCO people through the product's multi-person path: real detector boxes
# (score >= 0.3), every kept person of an image in one batch. The network was
# trained on 5 MPII people only, so these poses show the path, not accuracy;
# its scores on COCO people are low, so every keypoint is drawn (--kpt-thr 0).
run_stage "$LOGS/demo_coco.log" 'results written|Error|Traceback' \
  "$PY" tools/topdown_demo.py "$COCO_DIR" --pose-config "$CONFIG" \
    --pose-checkpoint "$CKPT" \
    --det-json "$COCO_DIR/test_coco_det_AP_H_56.json" --bbox-thr 0.3 \
    --kpt-thr 0 \
    --radius 4 --thickness 2 --out-dir "$WORK_DIR/demo"

echo "== outputs in $WORK_DIR"
ls "$CKPT" "$WORK_DIR/metrics.json" "$WORK_DIR/pred.mat" "$WORK_DIR/curves.png"
for json in "$WORK_DIR"/demo/*.json; do
  "$PY" -c 'import json, sys; people = json.load(open(sys.argv[1]))
print(f"   {sys.argv[1][:-5]}.png|json: {len(people)} person(s)")' "$json"
done
