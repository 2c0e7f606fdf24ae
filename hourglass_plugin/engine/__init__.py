"""Engine helpers: CPU distributed training and safe checkpoint I/O."""
from .checkpoint import (AtomicLocalBackend, allow_mmengine_checkpoint_types,
                         mmengine_checkpoint_types)
from .distributed import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import EpochSeedHook
from .train_visualization import TrainBatchVisualizationHook

allow_mmengine_checkpoint_types()

__all__ = [
    'AtomicLocalBackend', 'CPUDistributedDataParallel', 'EpochSeedHook',
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_types',
    'TrainBatchVisualizationHook', 'setup_cpu_distributed'
]
