"""Training throughput: images/s of one optimisation step per config, and of
the config's training data pipeline in one process (= one dataloader
worker), so that ``num_workers`` can be sized for a faster device.

A step is mmengine's ``model.train_step(batch, optim_wrapper)`` -- what the
Runner's training loop calls each iteration: ``data_preprocessor``, forward
with all stacks, loss, backward, optimizer step -- with the config's
optimizer, on a batch of REAL samples made by the config's train pipeline
(augmentation and target generation included) from the embedded data.

Training variants: ``fp32``; ``channels_last`` (model in NHWC memory format);
``amp`` (mmengine's ``AmpOptimWrapper`` with dynamic loss scaling, what
``tools/train.py --amp`` sets; CUDA only, reported as skipped elsewhere);
``amp+channels_last``.
"""
import time
from typing import List, Optional, Sequence

import torch
from torch.utils.benchmark import Timer

from .report import _fmt

TRAIN_VARIANTS = ('fp32', 'channels_last', 'amp', 'amp+channels_last')


def train_variant_skip_reason(variant: str, device: str) -> Optional[str]:
    """Why a training variant cannot run on ``device`` (None: it can).

    Raises:
        ValueError: An unknown variant.
    """
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f'unknown training variant {variant!r}; choose from '
                         f'{TRAIN_VARIANTS}')
    if variant.startswith('amp') and not (device.startswith('cuda')
                                          and torch.cuda.is_available()):
        return 'amp needs a CUDA GPU (mmengine AmpOptimWrapper)'
    return None


def _train_dataset(cfg, data_root: str):
    """The config's training dataset with ``data_root`` replaced."""
    from mmpose.registry import DATASETS
    dataset = cfg.train_dataloader.dataset.copy()
    dataset.data_root = data_root
    return DATASETS.build(dataset)


def run_training(
    specs: List[dict],
    data_root: str,
    batch_size: int = 4,
    steps: int = 2,
    threads: int = 1,
    device: str = 'cpu',
    pipeline_samples: int = 20,
    variants: Sequence[str] = ('fp32', )
) -> List[dict]:
    """Measure training-step and data-pipeline throughput per config.

    Args:
        specs (list[dict]): Model specs (``config``, ``name``, ``source``).
        data_root (str): Replaces the training dataset's ``data_root`` (the
            repository's ``data/``: 5 MPII people, HRNet json).
        batch_size (int): Samples per training step (repeating the data).
        steps (int): Timed steps (after one untimed), averaged.
        threads (int): torch threads.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        pipeline_samples (int): Samples drawn to time the data pipeline.
        variants (Sequence[str]): Of :data:`TRAIN_VARIANTS`.

    Returns:
        list[dict]: Per config and variant: ``name``, ``source``,
        ``variant``, ``input_size`` (W, H), ``batch_size``, ``step_s``
        (mean seconds per step), ``train_images_per_s``,
        ``pipeline_images_per_s`` (one process), ``loss`` (of the last step,
        finite); or ``skipped`` with the reason and None for the figures.

    Raises:
        RuntimeError: A step gave a non-finite loss.
        ValueError: An unknown variant.
    """
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    import hourglass_plugin  # noqa: F401  (our registered modules)
    for variant in variants:
        train_variant_skip_reason(variant, device)  # unknown ones fail first
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
        for variant in variants:
            rec = dict(
                name=spec['name'],
                source=spec['source'],
                config=spec['config'],
                variant=variant,
                device=device,
                threads=threads,
                input_size=list(cfg.codec['input_size']),
                batch_size=batch_size,
                step_s=None,
                train_images_per_s=None,
                pipeline_images_per_s=pipeline_rate,
                loss=None)
            reason = train_variant_skip_reason(variant, device)
            if reason:
                rec['skipped'] = reason
            else:
                rec.update(
                    _time_steps(cfg, variant, batch, steps, device,
                                spec['config']))
                rec['train_images_per_s'] = batch_size / rec['step_s']
            records.append(rec)
    return records


def _time_steps(cfg, variant: str, batch: dict, steps: int, device: str,
                config: str) -> dict:
    """Mean ``step_s`` of ``steps`` training steps after one untimed
    (``torch.utils.benchmark.Timer``, CUDA synchronised) and the last
    ``loss``, for one training variant."""
    from mmengine.optim import build_optim_wrapper
    from mmpose.registry import MODELS

    from ..engine.cli import use_amp
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    if variant.endswith('channels_last'):
        model = model.to(memory_format=torch.channels_last)
    optim_cfg = cfg.optim_wrapper.copy()
    if variant.startswith('amp'):
        use_amp(optim_cfg)
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    losses = []

    def step() -> None:
        losses.append(float(model.train_step(batch, optim_wrapper)['loss']))

    timer = Timer(
        'step()', globals=dict(step=step), num_threads=torch.get_num_threads())
    timer.timeit(1)
    seconds = timer.timeit(steps).mean
    if not torch.isfinite(torch.tensor(losses[-1])):
        raise RuntimeError(f'{config} ({variant}): non-finite loss '
                           f'{losses[-1]}')
    return dict(step_s=seconds, loss=losses[-1])


def training_markdown(records: Sequence[dict]) -> str:
    """The training throughput as a Markdown table."""
    lines = [
        '| model | source | variant | input | batch | step (s) | train '
        'images/s | data pipeline images/s per worker | note |',
        '|---|---|---|---|---:|---:|---:|---:|---|'
    ]
    for r in records:
        w, h = r['input_size']
        note = f'skipped: {r["skipped"]}' if r.get('skipped') else ''
        lines.append(f'| {r["name"]} | {r["source"]} | {r["variant"]} | '
                     f'{w}x{h} | {r["batch_size"]} | '
                     f'{_fmt(r["step_s"], ".2f")} | '
                     f'{_fmt(r["train_images_per_s"], ".2f")} | '
                     f'{r["pipeline_images_per_s"]:.1f} | {note} |')
    return '\n'.join(lines) + '\n'
