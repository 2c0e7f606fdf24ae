"""Engine helpers: strict checkpoint loading, safe checkpoint I/O, CPU
distributed training, fault tolerance and the tools' one-line errors."""
from .checkpoint import (AtomicLocalBackend, allow_mmengine_checkpoint_types,
                         fit_state_dict, init_pose_model,
                         load_model_checkpoint, mmengine_checkpoint_types,
                         read_checkpoint)
from .checkpoint_hook import SafeCheckpointHook, use_safe_checkpoint_hook
from .data_check import SampleProblem, check_samples
from .device import check_device, default_device
from .distributed import (CPUDistributedDataParallel, launcher_env,
                          setup_cpu_distributed)
from .errors import (BadSampleError, CheckpointError, ConfigError,
                     DatasetCheckError, DatasetError, DeviceError, InputError,
                     LaunchError, NonFiniteLossError, TooManyBadSamplesError,
                     TrainingFault, WorkDirLockedError, fault_message)
from .fault_tolerance import (NonFiniteLossHook, PreemptionCheckpointHook,
                              ResumableEpochBasedTrainLoop,
                              use_resumable_train_loop)
from .hooks import EpochSeedHook
from .runner import CheckpointCheckedRunner
from .train_visualization import TrainBatchVisualizationHook
from .work_dir_lock import WorkDirLock

allow_mmengine_checkpoint_types()

__all__ = [
    'AtomicLocalBackend', 'BadSampleError', 'CheckpointCheckedRunner',
    'CheckpointError', 'ConfigError', 'CPUDistributedDataParallel',
    'DatasetCheckError', 'DatasetError', 'DeviceError', 'EpochSeedHook',
    'InputError', 'LaunchError', 'NonFiniteLossError', 'NonFiniteLossHook',
    'PreemptionCheckpointHook', 'ResumableEpochBasedTrainLoop',
    'SafeCheckpointHook', 'SampleProblem', 'TooManyBadSamplesError',
    'TrainBatchVisualizationHook', 'TrainingFault', 'WorkDirLock',
    'WorkDirLockedError', 'allow_mmengine_checkpoint_types', 'check_device',
    'check_samples', 'default_device', 'fault_message', 'fit_state_dict',
    'init_pose_model', 'launcher_env', 'load_model_checkpoint',
    'mmengine_checkpoint_types', 'read_checkpoint', 'setup_cpu_distributed',
    'use_resumable_train_loop', 'use_safe_checkpoint_hook'
]
