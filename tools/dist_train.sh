#!/usr/bin/env bash
# Distributed training with torchrun (torch.distributed.run):
#   tools/dist_train.sh CONFIG NUM_PROCS_PER_NODE [train.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# GPUs: one process per GPU, NCCL. No GPU: processes on CPU with gloo.
# SIGTERM to this script (exec'd into torchrun) is forwarded by torchrun to
# every worker, which then saves WORK_DIR/iter_<n>.pth (PreemptionCheckpointHook)
# and exits within torchrun's 30 s grace period; continue with --resume auto.
# torchrun itself dies on SIGUSR1: send SIGUSR1 to the workers, or use
# tools/slurm_train.sh (srun starts train.py directly).
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$([[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python)}

PYTHONPATH="$ROOT:${PYTHONPATH:-}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
