"""Engine helpers: CPU distributed training and safe checkpoint I/O."""
from .checkpoint import (AtomicLocalBackend, allow_mmengine_checkpoint_types,
                         mmengine_checkpoint_types)
from .distributed import CPUDistributedDataParallel, setup_cpu_distributed

allow_mmengine_checkpoint_types()

__all__ = [
    'AtomicLocalBackend', 'CPUDistributedDataParallel',
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_types',
    'setup_cpu_distributed'
]
