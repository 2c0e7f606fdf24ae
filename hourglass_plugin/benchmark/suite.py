"""The model benchmark: every model and variant of a run, side by side.

:func:`model_specs` turns ``MODEL[::CHECKPOINT]`` arguments into specs;
:func:`run_benchmark` measures the GEMM reference once, prepares each model
here (complexity, ONNX export / int8 calibration, agreement reference) and
times each variant in a fresh worker (:mod:`.measure`); variants the device
cannot run are skipped with the reason.
"""
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import torch

from .machine import (LoadMonitor, describe_machine, gemm_gflops,
                      variant_skip_reason)
from .measure import prepare_model, run_worker
from .report import add_derived

#: record fields from the model's preparation
PREPARED = ('params', 'source_params', 'macs', 'input_size')


def model_specs(models: Sequence[str], checkpoints: Optional[Sequence[str]],
                variants: Sequence[str],
                mmpose_variants: Sequence[str]) -> List[dict]:
    """One spec per MODEL (config path or mmpose model-zoo name, optionally
    ``MODEL::CHECKPOINT``; or one ``checkpoints`` entry per model, ``none``
    for random weights): ``name`` (config stem, primed when repeated),
    ``config``, ``checkpoint`` (absolute or None), ``source`` (``ours`` for
    configs importing ``hourglass_plugin``, else ``mmpose``) and their
    ``variants`` (``variants`` or ``mmpose_variants``).

    Raises:
        ValueError: ``checkpoints`` count differs from the models, or a
            model has a checkpoint both ways.
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
                checkpoint=checkpoint and osp.abspath(checkpoint),
                source='ours' if ours else 'mmpose',
                variants=list(variants if ours else mmpose_variants)))
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
    """Measure every model and variant of ``specs`` (:func:`model_specs`).

    ``work_dir`` keeps ONNX files, random-init weights and references;
    ``calib_data`` is the data root of the real crops (int8 calibration,
    keypoint agreement with fp32 unless ``agreement=False``); ``data_root``
    the dataset root for PCKh (models with a checkpoint). Each variant is
    timed at ``batch_sizes`` (``repeats`` runs after ``warmup`` below batch
    8, ``repeats_large`` after 1 from 8) with ``threads`` threads, in a
    worker stopped after ``worker_budget`` seconds; ``allow_emulation`` runs
    bf16/fp16 where the CPU only emulates them.

    Returns:
        tuple: (records, meta): one record per model and variant (with
        ``skipped`` or ``failed`` and the reason where nothing was measured)
        and the run's conditions (:func:`describe_machine`, ``device``,
        ``threads``, ``gemm_peak_gflops``, ``gemm_size``, load figures).
    """
    torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    job = dict(
        device=device,
        threads=threads,
        work_dir=osp.abspath(work_dir),
        batch_sizes=list(batch_sizes),
        repeats=repeats,
        warmup=warmup,
        repeats_large=repeats_large,
        data_root=data_root,
        eval_batch_size=eval_batch_size,
        agreement=agreement,
        calib_data=calib_data)
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
                rec = dict(
                    spec,
                    variant=variant,
                    device=device,
                    threads=threads,
                    latency_ms_b1=None,
                    throughput_b32=None,
                    peak_mem_mb=None)
                rec.update((k, prep.get(k)) for k in PREPARED)
                del rec['variants']
                if skips[variant]:
                    rec['skipped'] = skips[variant]
                else:
                    _log(f'{spec["name"]} / {variant}')
                    rec.update(
                        run_worker(
                            dict(
                                job,
                                **spec,
                                **prep,
                                variant=variant,
                                onnx_file=prep['onnx'].get(variant),
                                reference=None if variant in ('eager',
                                                              'pytorch') else
                                prep['reference']), threads, worker_budget))
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
