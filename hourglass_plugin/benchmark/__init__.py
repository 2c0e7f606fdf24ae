"""Benchmarks of pose models on one machine, the library behind
``tools/benchmark.py``: :mod:`.machine` (machine facts, GEMM reference,
timing, load), :mod:`.complexity` (parameters, MACs), :mod:`.measure` /
:mod:`.suite` (per model and variant, each in a fresh process),
:mod:`.report` (derived figures, Markdown, results folder),
:mod:`.pipeline` (the top-down demo's stages) and :mod:`.training`
(training-step and data-pipeline throughput). Nothing runs at import time.
"""
from .complexity import model_complexity
from .machine import describe_machine, gemm_gflops, variant_skip_reason
from .pipeline import pipeline_markdown, run_pipeline
from .report import (REQUIRED_KEYS, add_derived, baseline, markdown,
                     ratio_lines, write_results)
from .suite import model_specs, run_benchmark
from .training import TRAIN_VARIANTS, run_training, training_markdown

__all__ = [
    'REQUIRED_KEYS', 'TRAIN_VARIANTS', 'add_derived', 'baseline',
    'describe_machine', 'gemm_gflops', 'markdown', 'model_complexity',
    'model_specs', 'pipeline_markdown', 'ratio_lines', 'run_benchmark',
    'run_pipeline', 'run_training', 'training_markdown', 'variant_skip_reason',
    'write_results'
]
