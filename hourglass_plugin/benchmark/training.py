"""Training throughput: images/s of mmengine's ``model.train_step`` on
real samples of the config's train pipeline, and of that pipeline in one
process; variants :data:`TRAIN_VARIANTS` (``amp``: CUDA only)."""
import time
from typing import List, Sequence

import torch

from .machine import thread_timer
from .report import _fmt

TRAIN_VARIANTS = ('fp32', 'channels_last', 'amp', 'amp+channels_last')


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
    """Measure training-step and data-pipeline throughput per config
    (``specs``: ``config``, ``name``, ``source``) on the training dataset
    moved to ``data_root``: ``batch_size`` samples per step, the mean of
    ``steps`` steps after one untimed, ``threads`` torch threads,
    ``pipeline_samples`` samples to time the data pipeline.

    Returns:
        list[dict]: Per config and variant: ``name``, ``source``,
        ``config``, ``variant``, ``input_size`` (W, H), ``batch_size``,
        ``step_s``, ``train_images_per_s``, ``pipeline_images_per_s``,
        ``loss`` (of the last step); or ``skipped`` with the reason.

    Raises:
        ValueError: An unknown variant.
        RuntimeError: A step gave a non-finite loss.
    """
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import hourglass_plugin  # noqa: F401  (our registered modules)
    unknown = set(variants) - set(TRAIN_VARIANTS)
    if unknown:
        raise ValueError(f'unknown training variant {sorted(unknown)[0]!r}; '
                         f'choose from {TRAIN_VARIANTS}')
    cuda = device.startswith('cuda') and torch.cuda.is_available()
    torch.set_num_threads(threads)
    records = []
    for spec in specs:
        cfg = Config.fromfile(spec['config'])
        init_default_scope(cfg.get('default_scope', 'mmpose'))
        dataset = DATASETS.build(
            dict(cfg.train_dataloader.dataset, data_root=data_root))
        start = time.perf_counter()
        samples = [dataset[i % len(dataset)] for i in range(pipeline_samples)]
        rate = pipeline_samples / (time.perf_counter() - start)
        batch = pseudo_collate(
            [samples[i % len(samples)] for i in range(batch_size)])
        for variant in variants:
            rec = {k: spec[k] for k in ('name', 'source', 'config')}
            rec.update(dict.fromkeys(('step_s', 'train_images_per_s', 'loss')))
            rec.update(variant=variant, device=device, threads=threads)
            rec.update(input_size=list(cfg.codec['input_size']))
            rec.update(batch_size=batch_size, pipeline_images_per_s=rate)
            if variant.startswith('amp') and not cuda:
                rec['skipped'] = 'amp needs a CUDA GPU (AmpOptimWrapper)'
            else:
                rec.update(_time_steps(cfg, variant, batch, steps, device))
                rec['train_images_per_s'] = batch_size / rec['step_s']
            records.append(rec)
    return records


def _time_steps(cfg, variant: str, batch: dict, steps: int,
                device: str) -> dict:
    """``step_s`` (mean of ``steps`` steps after one untimed, with
    ``torch.utils.benchmark.Timer``) and the last ``loss``."""
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
    optim_wrapper, losses = build_optim_wrapper(model, optim_cfg), []
    timer = thread_timer(
        'losses.append(model.train_step(batch, wrapper)["loss"].item())',
        losses=losses,
        model=model,
        batch=batch,
        wrapper=optim_wrapper)
    timer.timeit(1)
    seconds = timer.timeit(steps).mean
    if not torch.isfinite(torch.tensor(losses[-1])):
        raise RuntimeError(f'{cfg.filename} ({variant}): non-finite loss '
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
        lines.append(
            f'| {r["name"]} | {r["source"]} | {r["variant"]} | '
            f'{r["input_size"][0]}x{r["input_size"][1]} | '
            f'{r["batch_size"]} | {_fmt(r["step_s"], ".2f")} | '
            f'{_fmt(r["train_images_per_s"], ".2f")} | '
            f'{r["pipeline_images_per_s"]:.1f} | '
            f'{"skipped: " + r["skipped"] if "skipped" in r else ""} |')
    return '\n'.join(lines) + '\n'
