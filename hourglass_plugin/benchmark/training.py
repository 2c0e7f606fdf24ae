"""Training throughput: images/s of one optimisation step per config, and of
the config's training data pipeline in one process (= one dataloader
worker), so that ``num_workers`` can be sized for a faster device.

A step is mmengine's ``model.train_step(batch, optim_wrapper)`` -- what the
Runner's training loop calls each iteration: ``data_preprocessor``, forward
with all stacks, loss, backward, optimizer step -- with the config's
optimizer, on a batch of REAL samples made by the config's train pipeline
(augmentation and target generation included) from the embedded data.
"""
import statistics
import time
from typing import List, Sequence

import torch


def _train_dataset(cfg, data_root: str):
    """The config's training dataset with ``data_root`` replaced."""
    from mmpose.registry import DATASETS
    dataset = cfg.train_dataloader.dataset.copy()
    dataset.data_root = data_root
    return DATASETS.build(dataset)


def run_training(specs: List[dict],
                 data_root: str,
                 batch_size: int = 4,
                 steps: int = 2,
                 threads: int = 1,
                 device: str = 'cpu',
                 pipeline_samples: int = 20) -> List[dict]:
    """Measure training-step and data-pipeline throughput per config.

    Args:
        specs (list[dict]): Model specs (``config``, ``name``, ``source``).
        data_root (str): Replaces the training dataset's ``data_root`` (the
            repository's ``data/``: 5 MPII people, HRNet json).
        batch_size (int): Samples per training step (repeating the data).
        steps (int): Timed steps (after one untimed); the median is used.
        threads (int): torch threads.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        pipeline_samples (int): Samples drawn to time the data pipeline.

    Returns:
        list[dict]: Per config: ``name``, ``source``, ``input_size`` (W,
        H), ``batch_size``, ``step_s`` (median seconds per step),
        ``train_images_per_s``, ``pipeline_images_per_s`` (one process),
        ``loss`` (of the last step, finite).

    Raises:
        RuntimeError: A step gave a non-finite loss.
    """
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import hourglass_plugin  # noqa: F401  (our registered modules)
    torch.set_num_threads(threads)
    records = []
    for spec in specs:
        cfg = Config.fromfile(spec['config'])
        init_default_scope(cfg.get('default_scope', 'mmpose'))
        dataset = _train_dataset(cfg, data_root)
        start = time.perf_counter()
        samples = [dataset[i % len(dataset)] for i in range(pipeline_samples)]
        pipeline_rate = pipeline_samples / (time.perf_counter() - start)
        batch = pseudo_collate(
            [samples[i % len(samples)] for i in range(batch_size)])
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device).train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        times, loss = [], None
        for _ in range(steps + 1):
            if device.startswith('cuda'):
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            log_vars = model.train_step(batch, optim_wrapper)
            if device.startswith('cuda'):
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
            loss = float(log_vars['loss'])
        if not torch.isfinite(torch.tensor(loss)):
            raise RuntimeError(f'{spec["config"]}: non-finite loss {loss}')
        step = statistics.median(times[1:])
        records.append(
            dict(
                name=spec['name'],
                source=spec['source'],
                config=spec['config'],
                device=device,
                threads=threads,
                input_size=list(cfg.codec['input_size']),
                batch_size=batch_size,
                step_s=step,
                train_images_per_s=batch_size / step,
                pipeline_images_per_s=pipeline_rate,
                loss=loss))
        del model, optim_wrapper
    return records


def training_markdown(records: Sequence[dict]) -> str:
    """The training throughput as a Markdown table."""
    lines = [
        '| model | source | input | batch | step (s) | train images/s '
        '| data pipeline images/s per worker |', '|---|---|---|---:|---:|'
        '---:|---:|'
    ]
    for r in records:
        w, h = r['input_size']
        lines.append(f'| {r["name"]} | {r["source"]} | {w}x{h} | '
                     f'{r["batch_size"]} | {r["step_s"]:.2f} | '
                     f'{r["train_images_per_s"]:.2f} | '
                     f'{r["pipeline_images_per_s"]:.1f} |')
    return '\n'.join(lines) + '\n'
