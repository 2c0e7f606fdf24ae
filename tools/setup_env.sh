#!/usr/bin/env bash
# Create (or update) the project's virtual environment at .venv/ with the pinned
# OpenMMLab stack that works on today's torch/numpy/setuptools.
# Why each pin is what it is: docs/install.md.
#
#   bash tools/setup_env.sh          # idempotent; seconds when already done
#   FORCE=1 bash tools/setup_env.sh  # re-check every step
#
# On a machine with a CUDA GPU (torch.cuda.is_available() and nvcc present)
# mmcv is compiled with its CUDA ops (FORCE_CUDA=1); otherwise CPU ops only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.hourglass_plugin_stack"

TORCH_PIN='torch==2.13.0,!=2.13.0+cpu'   # registry build; the +cpu wheel has no loadable torchvision
TORCHVISION_PIN='torchvision==0.28.0'
NUMPY_PIN='numpy>=1.26,<2'                # xtcocotools wheels are built against numpy 1
SETUPTOOLS_PIN='setuptools>=77.0.3,<82'   # mmcv/mmengine import pkg_resources (gone in 82)
MMCV_PIN='mmcv==2.1.0'                    # mmdet 3.3.0 asserts mmcv<2.2.0
MMENGINE_PIN='mmengine==0.10.7'
MMDET_PIN='mmdet==3.3.0'
MMPOSE_PIN='mmpose==1.3.2'                # installed --no-deps: its chumpy dep does not build on 3.11
# mmpose's real runtime dependencies (its requirements/runtime.txt minus chumpy)
MMPOSE_DEPS=(json_tricks munkres scipy matplotlib 'opencv-python>=4.8,<4.12'
             pillow 'xtcocotools==1.14.3' six)
MMDET_DEPS=(pycocotools shapely terminaltables tqdm)
TEST_DEPS=(pytest pytest-timeout h5py onnx onnxruntime tensorboard)
LINT_DEPS=(flake8==7.5.0 isort==5.13.2 yapf==0.43.0)  # as .pre-commit-config.yaml

step=""
fail() {
  echo "[setup_env] FAILED at step: $step" >&2
  echo "[setup_env] $1" >&2
  exit 1
}
trap 'fail "see the pip/python output above; fix it and re-run: bash tools/setup_env.sh"' ERR
say() { step="$1"; echo "[setup_env] $1"; }

# Hash of this script and setup.cfg: when unchanged and the stack imports, nothing to do.
want_stamp="$(cat "$0" "$ROOT/setup.cfg" | sha256sum | cut -d' ' -f1)"
check_stack() {
  "$PY" - <<'PYEOF' >/dev/null 2>&1
import torch, torchvision, mmcv, mmengine, mmdet, mmpose, numpy, xtcocotools.coco  # noqa
from mmcv.ops import nms  # compiled ops
import torchvision.ops
import hourglass_plugin  # noqa
assert numpy.__version__.startswith('1.')
PYEOF
}
if [[ -z "${FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && check_stack; then
  echo "[setup_env] .venv is up to date ($("$PY" -c 'import torch,mmcv,mmpose,mmdet;print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmpose {mmpose.__version__}")'))"
  exit 0
fi

say "1/7 virtual environment at $VENV"
[[ -x "$PY" ]] || python3 -m venv "$VENV" || fail "python3 -m venv failed: install python3-venv (Python >= 3.8)"
PIP=("$PY" -m pip install --disable-pip-version-check)

say "2/7 build tools ($SETUPTOOLS_PIN, wheel, ninja, psutil) and $NUMPY_PIN"
"${PIP[@]}" -q "$SETUPTOOLS_PIN" wheel ninja psutil "$NUMPY_PIN"

say "3/7 torch + torchvision ($TORCH_PIN, $TORCHVISION_PIN; ~1.5 min and ~5 GB the first time)"
if ! "$PY" -c 'import torch, torchvision.ops; assert torch.__version__.startswith("2.13.0") and "+cpu" not in torch.__version__' 2>/dev/null; then
  "${PIP[@]}" "$TORCH_PIN" "$TORCHVISION_PIN" "$NUMPY_PIN"
fi
"$PY" -c 'import torchvision.ops' || fail "torchvision does not load with this torch (operator torchvision::nms): reinstall with: $PY -m pip install --force-reinstall '$TORCH_PIN' $TORCHVISION_PIN"

say "4/7 mmcv 2.1.0 with compiled ops (source build: ~12 min on 2 cores the first time, then from pip's wheel cache)"
if ! "$PY" -c 'import mmcv; from mmcv.ops import nms; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  if "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' && command -v nvcc >/dev/null; then
    echo "[setup_env]   CUDA GPU and nvcc found: building mmcv's CUDA ops (FORCE_CUDA=1)"
    export FORCE_CUDA=1
  else
    echo "[setup_env]   no CUDA GPU: building mmcv's CPU ops"
    export FORCE_CUDA=0
  fi
  MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 "${PIP[@]}" --no-build-isolation "$MMCV_PIN" \
    || fail "mmcv build failed: it needs gcc/g++, the Python headers and ~3 GB RAM; torch must be 2.13 (2.14 needs C++20)"
fi

say "5/7 $MMENGINE_PIN, $MMDET_PIN and $MMPOSE_PIN (mmpose without chumpy)"
"${PIP[@]}" -q "$MMENGINE_PIN" "${MMPOSE_DEPS[@]}" "${MMDET_DEPS[@]}" "$NUMPY_PIN" "$SETUPTOOLS_PIN"
"${PIP[@]}" -q --no-deps "$MMDET_PIN" "$MMPOSE_PIN"

say "6/7 hourglass_plugin (editable), test/export extras and linters"
"${PIP[@]}" -q "${TEST_DEPS[@]}" "${LINT_DEPS[@]}" "$NUMPY_PIN" 'ml_dtypes<0.6'
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT"

say "7/7 check: mmcv ops, mmdet, mmpose, xtcocotools, hourglass_plugin import"
check_stack || { "$PY" -c 'import hourglass_plugin, mmcv.ops, mmdet, mmpose, xtcocotools.coco'; fail "import check failed"; }
echo "$want_stamp" > "$STAMP"
echo "[setup_env] done: $("$PY" -c 'import torch,mmcv,mmpose,mmdet,numpy;print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmpose {mmpose.__version__}, numpy {numpy.__version__}")')"
