#!/usr/bin/env bash
# One command that checks every CUDA path on a GPU machine (a few minutes on
# one GPU; nothing is downloaded after tools/setup_env.sh):
#   1. bash tools/setup_env.sh (the pinned .venv; mmcv with its CUDA ops);
#   2. pytest -m gpu: tests/test_gpu/ -- tools/train.py --amp, the training
#      variants (fp32 / channels_last / amp / amp+channels_last),
#      tools/dist_train.sh ... 2 (two GPUs), tools/test.py, the demo with
#      every backend, ONNX export of a CUDA model, tools/benchmark.py;
#   3. bash tools/benchmark_gpu.sh: the GPU rows of the benchmark.
# Prints one table (each check, its result and seconds, the GPU's name),
# then the benchmark's tables. Everything lands in OUT_DIR (default
# work_dirs/gpu_check): gpu_tests.xml / .txt, benchmark/*.md|json,
# summary.md. Exit status: 0 when every check passed (skips included).
# Usage: bash tools/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
OUT_DIR="${1:-work_dirs/gpu_check}"
PY=.venv/bin/python
mkdir -p "$OUT_DIR"

bash tools/setup_env.sh
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else \
'gpu_check.sh: error: torch sees no CUDA GPU (torch.cuda.is_available() is False)')"

set +e
start=$SECONDS
"$PY" -m pytest tests -m gpu -q -rs -p no:cacheprovider \
  --junitxml="$OUT_DIR/gpu_tests.xml" 2>&1 | tee "$OUT_DIR/gpu_tests.txt"
tests_status=${PIPESTATUS[0]}
tests_s=$((SECONDS - start))
start=$SECONDS
bash tools/benchmark_gpu.sh "$OUT_DIR/benchmark" > "$OUT_DIR/benchmark.log" 2>&1
bench_status=$?
bench_s=$((SECONDS - start))
set -e

"$PY" - "$OUT_DIR" "$bench_status" "$bench_s" "$tests_s" <<'EOF'
"""The summary table: one row per GPU test (junit XML) and the benchmark."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

out_dir, bench_status, bench_s, tests_s = Path(sys.argv[1]), *sys.argv[2:]
rows = []
for case in ET.parse(out_dir / 'gpu_tests.xml').iter('testcase'):
    result, why = 'passed', ''
    for tag in ('failure', 'error', 'skipped'):
        node = case.find(tag)
        if node is not None:
            result = 'skipped' if tag == 'skipped' else 'FAILED'
            why = (node.get('message') or '').splitlines()[0][:90]
    rows.append((case.get('name'), result, float(case.get('time', 0)), why))
rows.append(('tools/benchmark_gpu.sh', 'passed' if bench_status == '0' else
             f'FAILED (exit {bench_status}, see benchmark.log)',
             float(bench_s), 'tables below'))
lines = [
    f'GPU check on {torch.cuda.get_device_name(0)} '
    f'({torch.cuda.device_count()} GPU(s)), torch {torch.__version__}, '
    f'CUDA {torch.version.cuda}; pytest -m gpu {tests_s} s', '',
    '| check | result | s | note |', '|---|---|---:|---|'
]
lines += [f'| {n} | {r} | {s:.1f} | {w} |' for n, r, s, w in rows]
for table in ('inference.md', 'training.md'):
    path = out_dir / 'benchmark' / table
    if path.is_file():
        lines += ['', f'benchmark/{table}:', '', path.read_text().rstrip()]
text = '\n'.join(lines)
(out_dir / 'summary.md').write_text(text + '\n')
print(text)
EOF
echo "gpu_check.sh: summary in $OUT_DIR/summary.md"
[[ $tests_status -eq 0 && $bench_status -eq 0 ]]
