#!/usr/bin/env bash
# Training on a slurm cluster (one task per GPU, srun starts them):
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SIGNAL=USR1@60] [REQUEUE=1] \
#   [GRES=gpu:8] [SRUN_ARGS=...] tools/slurm_train.sh PARTITION JOB_NAME CONFIG \
#   WORK_DIR [train.py args, e.g. --resume auto]
#
# CPU-only nodes: GRES= (no GPU request); GPUS and GPUS_PER_NODE then count
# tasks, and train.py starts a gloo process group from slurm's variables.
#
# Pre-emption and time limits: srun gets --signal=$SIGNAL (default USR1@60:
# SIGUSR1 to every task 60 s before the time limit; SIGNAL= turns it off).
# On SIGUSR1 or SIGTERM (what slurm sends when it pre-empts or cancels a job)
# every rank finishes its iteration, rank 0 writes WORK_DIR/iter_<n>.pth
# atomically and points WORK_DIR/last_checkpoint at it, and train.py exits
# with code 0 (PreemptionCheckpointHook, configs/_base_/default_runtime.py).
# Pass --resume auto so that a restarted job continues from that iteration,
# mid-epoch, with the losses of an uninterrupted run.
#
# Requeue: inside an sbatch job submitted with --requeue, REQUEUE=1 makes this
# script call `scontrol requeue $SLURM_JOB_ID` when the run stopped at a
# pre-emption checkpoint (last_checkpoint names an iter_<n>.pth; epoch-based
# configs only), e.g.
#   sbatch --requeue -p PARTITION --gres=gpu:8 --ntasks=8 --wrap \
#     "REQUEUE=1 tools/slurm_train.sh PARTITION hg52 CONFIG WORK_DIR --resume auto"
# (use SRUN_ARGS for srun options inside an allocation). Slurm's own
# PreemptMode=REQUEUE requeues pre-empted jobs without it.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SIGNAL=${SIGNAL-USR1@60}
REQUEUE=${REQUEUE:-0}
GRES=${GRES-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$([[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python)}

# shellcheck disable=SC2086
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SIGNAL:+--signal="$SIGNAL"} \
    $SRUN_ARGS \
    "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher="slurm" "${@:5}"

if [[ "$REQUEUE" == 1 && -n "${SLURM_JOB_ID:-}" ]] \
    && grep -qE '/iter_[0-9]+\.pth$' "$WORK_DIR/last_checkpoint" 2>/dev/null; then
    echo "[slurm_train] pre-empted at $(cat "$WORK_DIR/last_checkpoint"); requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
