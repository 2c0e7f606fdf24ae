"""Engine helpers: CPU distributed training and safe checkpoint I/O."""
from .checkpoint import (AtomicLocalBackend, allow_mmengine_checkpoint_types,
                         init_pose_model, load_model_checkpoint,
                         mmengine_checkpoint_types)
from .data_check import SampleProblem, check_samples
from .distributed import CPUDistributedDataParallel, setup_cpu_distributed
from .errors import (BadSampleError, CheckpointError, DatasetCheckError, NonFiniteLossError,
                     TooManyBadSamplesError, TrainingFault, fault_message)
from .fault_tolerance import (NonFiniteLossHook, PreemptionCheckpointHook,
                              ResumableEpochBasedTrainLoop,
                              use_resumable_train_loop)
from .hooks import EpochSeedHook
from .train_visualization import TrainBatchVisualizationHook

allow_mmengine_checkpoint_types()

__all__ = [
    'AtomicLocalBackend', 'BadSampleError', 'CheckpointError', 'CPUDistributedDataParallel',
    'DatasetCheckError', 'SampleProblem', 'check_samples', 'EpochSeedHook',
    'NonFiniteLossError', 'NonFiniteLossHook', 'PreemptionCheckpointHook',
    'ResumableEpochBasedTrainLoop', 'TooManyBadSamplesError', 'TrainingFault',
    'allow_mmengine_checkpoint_types', 'fault_message', 'init_pose_model',
    'load_model_checkpoint',
    'mmengine_checkpoint_types', 'TrainBatchVisualizationHook',
    'setup_cpu_distributed', 'use_resumable_train_loop'
]
