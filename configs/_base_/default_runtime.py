# Runtime shared by every hourglass_plugin config: mmpose's default runtime
# plus the plugin import, atomic checkpoints, CPU-friendly distributed
# settings and the fault-tolerance hooks (docs/failures.md).
default_scope = 'mmpose'
custom_imports = dict(imports=['hourglass_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes: a run killed while saving never leaves a truncated .pth;
    # old and best checkpoints are removed only after the new one is written
    checkpoint=dict(
        type='SafeCheckpointHook',
        interval=10,
        save_best='PCK',
        rule='greater',
        max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # `tools/test.py --show-dir DIR` / `tools/train.py --show-dir` enable it
    visualization=dict(type='PoseVisualizationHook', enable=False))

custom_hooks = [
    # refuse mmpose's MpiiPCKAccuracy on our 0-based MPIIPoseDataset (it
    # would score every prediction 1 px off); docs/evaluation.md
    dict(type='KeypointOriginCheckHook'),
    # synchronise BN running statistics across ranks at the end of each epoch
    dict(type='SyncBuffersHook'),
    # augmentation draws depend only on (seed, epoch, rank): resumable runs
    dict(type='EpochSeedHook'),
    # GT/prediction/heatmap images of a training batch:
    # tools/train.py --vis-train-batch N
    dict(type='TrainBatchVisualizationHook', enable=False),
    # stop at the first NaN/inf loss, before a checkpoint of it is written
    dict(type='NonFiniteLossHook', max_consecutive=1),
    # SIGTERM/SIGUSR1 (slurm pre-emption): save iter_<n>.pth atomically, stop
    dict(type='PreemptionCheckpointHook', signals=['SIGTERM', 'SIGUSR1']),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo (and a CPU DDP wrapper) without a GPU
    dist_cfg=dict(backend='nccl'))

vis_backends = [
    dict(type='LocalVisBackend'),
    # dict(type='TensorboardVisBackend'),  # or: tools/train.py --tensorboard
]
visualizer = dict(
    type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(
    type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)

backend_args = dict(backend='local')

val_cfg = dict()
test_cfg = dict()
