"""The model benchmark: every model and variant of a run, side by side."""
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import torch

from .machine import (LoadMonitor, describe_machine, gemm_gflops,
                      variant_skip_reason)
from .measure import prepare_model, run_worker
from .report import add_derived

#: the workers' settings (arguments of :func:`run_benchmark`)
JOB_KEYS = ('device', 'threads', 'work_dir', 'batch_sizes', 'repeats',
            'warmup', 'repeats_large', 'data_root', 'eval_batch_size',
            'agreement', 'calib_data')
#: record fields from the model's preparation, and measured ones
PREPARED = ('params', 'source_params', 'macs', 'input_size')
MEASURED = ('latency_ms_b1', 'throughput_b32', 'peak_mem_mb')


def model_specs(models: Sequence[str], checkpoints: Optional[Sequence[str]],
                variants: Sequence[str],
                mmpose_variants: Sequence[str]) -> List[dict]:
    """One spec per MODEL (config path or mmpose model-zoo name, with
    ``::CHECKPOINT`` or a ``checkpoints`` entry; ``none``: random weights):
    ``name`` (config stem, primed when repeated), ``config``, ``checkpoint``,
    ``source`` (``ours`` / ``mmpose``) and its ``variants``.

    Raises:
        ValueError: Checkpoints that do not pair with the models.
        FileNotFoundError: Unknown config or missing checkpoint.
    """
    from ..deploy.model_zoo import is_plugin_config, resolve_config
    if checkpoints and len(checkpoints) != len(models):
        raise ValueError(f'--checkpoints has {len(checkpoints)} entries '
                         f'for {len(models)} models')
    specs, names = [], set()
    for model, listed in zip(models, checkpoints or [None] * len(models)):
        config, _, checkpoint = model.partition('::')
        if checkpoint and checkpoints:
            raise ValueError(f'{model}: checkpoint given both as ::CKPT and '
                             'in --checkpoints')
        checkpoint = checkpoint or listed
        checkpoint = None if str(checkpoint).lower() == 'none' else checkpoint
        if checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'{model}: checkpoint not found: '
                                    f'{checkpoint}')
        config = resolve_config(config)
        ours = is_plugin_config(config)
        name = osp.splitext(osp.basename(config))[0]
        while name in names:
            name += "'"
        names.add(name)
        specs.append(
            dict(
                name=name,
                config=config,
                variants=list(variants if ours else mmpose_variants)))
        specs[-1].update(
            source='ours' if ours else 'mmpose',
            checkpoint=checkpoint and osp.abspath(checkpoint))
    return specs


def run_benchmark(specs: List[dict],
                  work_dir: str,
                  calib_data: Optional[str],
                  device: str = 'cpu',
                  threads: int = 1,
                  batch_sizes: Sequence[int] = (1, 32),
                  repeats: int = 10,
                  repeats_large: int = 3,
                  warmup: int = 2,
                  gemm_size: int = 4096,
                  data_root: Optional[str] = None,
                  eval_batch_size: int = 8,
                  agreement: bool = True,
                  worker_budget: float = 600.0,
                  allow_emulation: bool = False) -> Tuple[List[dict], dict]:
    """Measure the GEMM reference, then every model and variant of ``specs``
    (:func:`model_specs`): :func:`prepare_model` here, then a worker per
    variant (:func:`.measure.measure_variant`: ``repeats`` runs after
    ``warmup`` below batch 8, ``repeats_large`` from 8; PCKh on
    ``data_root``) stopped after ``worker_budget`` s.

    Returns ``(records, meta)``: a record per model and variant (``skipped``
    / ``failed`` with the reason), and the run's conditions.
    """
    torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    work_dir, batch_sizes = osp.abspath(work_dir), list(batch_sizes)
    job = {k: v for k, v in locals().items() if k in JOB_KEYS}
    records, gemm = [], None
    with LoadMonitor() as load:
        if not device.startswith('cuda') or torch.cuda.is_available():
            gemm = gemm_gflops(device, gemm_size)
        for spec in specs:
            skips = {
                v: variant_skip_reason(v, device, allow_emulation)
                for v in spec['variants']
            }
            run = [v for v in spec['variants'] if skips[v] is None]
            _log(f'{spec["name"]}: preparing {", ".join(run) or "nothing"}')
            prep = prepare_model(dict(job, **spec) | dict(variants=run)) \
                if run else {}
            for variant in spec['variants']:
                rec = dict(spec, variant=variant, device=device)
                rec.update((k, prep.get(k)) for k in PREPARED)
                rec.update(dict.fromkeys(MEASURED), threads=threads)
                del rec['variants']
                if skips[variant]:
                    rec['skipped'] = skips[variant]
                else:
                    _log(f'{spec["name"]} / {variant}')
                    one = dict(job, **spec, **prep, variant=variant)
                    one['onnx_file'] = prep['onnx'].get(variant)
                    if variant in ('eager', 'pytorch'):
                        one['reference'] = None  # itself is the reference
                    rec.update(run_worker(one, threads, worker_budget))
                if rec.get('failed'):
                    _log(f'{spec["name"]} / {variant}: {rec["failed"]}')
                records.append(rec)
    for rec in records:
        rec['other_processes_cores'] = round(load.others, 3)
    add_derived(records, gemm)
    return records, dict(
        describe_machine(device),
        device=device,
        threads=threads,
        gemm_peak_gflops=gemm,
        gemm_size=gemm_size,
        load_before=load.load_before,
        load_after=load.load_after,
        other_processes_cores=load.others)


def _log(message: str) -> None:
    print(f'[benchmark] {message}', file=sys.stderr, flush=True)
