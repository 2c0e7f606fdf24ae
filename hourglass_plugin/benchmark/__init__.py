"""Benchmarks of pose models on one machine (``tools/benchmark.py``);
nothing runs at import time."""
from .complexity import model_complexity
from .machine import describe_machine, gemm_gflops, variant_skip_reason
from .report import (REQUIRED_KEYS, add_derived, baseline, markdown, plot,
                     ratio_lines, write_results)
from .suite import model_specs, run_benchmark
from .training import TRAIN_VARIANTS, run_training, training_markdown

__all__ = [
    'REQUIRED_KEYS', 'TRAIN_VARIANTS', 'add_derived', 'baseline',
    'describe_machine', 'gemm_gflops', 'markdown', 'model_complexity',
    'model_specs', 'plot', 'ratio_lines', 'run_benchmark', 'run_training',
    'training_markdown', 'variant_skip_reason', 'write_results'
]
