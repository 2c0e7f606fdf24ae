"""Benchmarks of pose models on one machine: the library behind
``tools/benchmark.py`` and ``tools/model_complexity.py``.

* :mod:`.machine` -- the machine, its measured GEMM rate, which variants run
  natively, timing, CPU load of other processes;
* :mod:`.complexity` -- parameters and MACs (mmengine's counter);
* :mod:`.measure` / :mod:`.suite` -- per model and variant: latency,
  throughput, memory, keypoint agreement, PCKh, each variant in a fresh
  process with a time budget;
* :mod:`.report` -- derived figures, Markdown, speed-up sentences, plot,
  results folder;
* :mod:`.pipeline` -- the top-down demo's work timed stage by stage;
* :mod:`.training` -- training-step and data-pipeline throughput.

Nothing here runs, reads files or parses configs at import time.
"""
from .complexity import model_complexity
from .machine import describe_machine, gemm_gflops, variant_skip_reason
from .pipeline import pipeline_markdown, run_pipeline
from .report import (REQUIRED_KEYS, add_derived, baseline, markdown, plot,
                     ratio_lines, write_results)
from .suite import model_specs, run_benchmark
from .training import TRAIN_VARIANTS, run_training, training_markdown

__all__ = [
    'REQUIRED_KEYS', 'TRAIN_VARIANTS', 'add_derived', 'baseline',
    'describe_machine', 'gemm_gflops', 'markdown', 'model_complexity',
    'model_specs', 'pipeline_markdown', 'plot', 'ratio_lines', 'run_benchmark',
    'run_pipeline', 'run_training', 'training_markdown', 'variant_skip_reason',
    'write_results'
]
