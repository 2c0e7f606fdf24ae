#!/usr/bin/env bash
# The GPU rows of the benchmark in one prepared run (a few minutes on one GPU):
#   1. inference: ours (HG-52 at 256, Newell 8-stack at 256) beside mmpose's
#      HG-52, eager / channels_last / compile / fp16 / ONNX Runtime (CUDA
#      provider; skipped with the reason when only the CPU onnxruntime is
#      installed), random weights, batch 1 and 32;
#   2. training steps/s: fp32, channels_last, amp, amp+channels_last for HG-52
#      at 256 and 384, the Newell 8-stack and mmpose's HG-52 (batch 16).
# Results (JSON + Markdown with date, machine and command) land in OUT_DIR
# (default work_dirs/benchmark_gpu) as inference.* and training.*; the device
# name in OUT_DIR/device.txt. Nothing is downloaded. Exit code 1 when a row
# FAILED.
# Usage: bash tools/benchmark_gpu.sh [OUT_DIR] [DEVICE]
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
OUT_DIR="${1:-work_dirs/benchmark_gpu}" DEVICE="${2:-cuda}"
PY="${PYTHON:-.venv/bin/python}"
MMPOSE_HG52=td-hm_hourglass52_8xb64-210e_mpii-256x256
mkdir -p "$OUT_DIR"
"$PY" -c "import torch; assert torch.cuda.is_available() or '$DEVICE' == 'cpu', \
'no CUDA device: run on a GPU machine (or pass DEVICE=cpu to try the script)'; \
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" \
  | tee "$OUT_DIR/device.txt"
"$PY" tools/benchmark.py configs/hourglass52_mpii_256.py configs/newell_hourglass8_mpii_256.py \
  "$MMPOSE_HG52" --device "$DEVICE" \
  --variants eager channels_last compile fp16 onnx --mmpose-variants eager fp16 \
  --worker-budget 240 --out-dir "$OUT_DIR"
"$PY" tools/benchmark.py configs/hourglass52_mpii_256.py configs/hourglass52_mpii_384.py \
  configs/newell_hourglass8_mpii_256.py "$MMPOSE_HG52" --device "$DEVICE" --training \
  --train-batch 16 --train-steps 5 --train-variants fp32 channels_last amp amp+channels_last \
  --out-dir "$OUT_DIR"
