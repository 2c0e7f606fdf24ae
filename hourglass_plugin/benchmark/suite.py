"""The model benchmark: every model and variant of a run, side by side.

:func:`model_specs` turns ``MODEL[::CHECKPOINT]`` arguments into specs;
:func:`run_benchmark` measures the GEMM reference once, prepares each model
in this process (complexity, ONNX export / int8 calibration, the agreement
reference) and times each variant in a fresh worker process with a time
budget; variants the device cannot run are skipped with the reason.
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

#: per-record fields copied from the model's preparation
PREPARED = ('params', 'source_params', 'macs', 'input_size')


def model_specs(models: Sequence[str], checkpoints: Optional[Sequence[str]],
                variants: Sequence[str],
                mmpose_variants: Sequence[str]) -> List[dict]:
    """One spec per MODEL: resolved config, checkpoint, owner, variants.

    Args:
        models (list[str]): Config paths or mmpose model-zoo names,
            optionally ``MODEL::CHECKPOINT``.
        checkpoints (list[str], optional): One per model (``none`` = random
            weights), instead of ``::CHECKPOINT``.
        variants (list[str]): Variants of our models (configs that import
            ``hourglass_plugin``).
        mmpose_variants (list[str]): Variants of every other model.

    Returns:
        list[dict]: ``name`` (config stem, primed when repeated), ``config``,
        ``checkpoint`` (absolute or None), ``source`` (``ours`` /
        ``mmpose``), ``variants``.

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
        if checkpoint and checkpoint.lower() == 'none':
            checkpoint = None
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
                checkpoint=osp.abspath(checkpoint) if checkpoint else None,
                source='ours' if ours else 'mmpose',
                variants=list(variants if ours else mmpose_variants)))
    return specs


def _log(message: str) -> None:
    print(f'[benchmark] {message}', file=sys.stderr, flush=True)


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
    """Measure every model and variant of ``specs``.

    Args:
        specs (list[dict]): From :func:`model_specs`.
        work_dir (str): ONNX files, random-init weights, references.
        calib_data (str, optional): Data root of the real crops (int8
            calibration, keypoint agreement), e.g. the repository's
            ``data/``.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        threads (int): PyTorch / ONNX Runtime threads of every worker.
        batch_sizes (list[int]): Timed batch sizes.
        repeats, repeats_large, warmup (int): Timed runs at batch < 8 and
            >= 8, untimed runs first (1 at batch >= 8).
        gemm_size (int): Matrix side of the GEMM reference.
        data_root (str, optional): Dataset root for PCKh (models with a
            checkpoint).
        eval_batch_size (int): Batch size of the PCKh loop.
        agreement (bool): Measure the keypoint agreement with fp32.
        worker_budget (float): Seconds one worker may take.
        allow_emulation (bool): Run bf16/fp16 where the CPU emulates them.

    Returns:
        tuple: (records, meta): one record per model and variant (with
        ``skipped`` or ``failed`` and the reason where nothing was
        measured), and the run's conditions (:func:`describe_machine`,
        ``device``, ``threads``, ``gemm_peak_gflops``, ``gemm_size``, load).
    """
    torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    records = []
    with LoadMonitor() as load:
        _log(f'fp32 GEMM on {device}, {threads} threads ...')
        gemm = None
        if not device.startswith('cuda') or torch.cuda.is_available():
            gemm = gemm_gflops(device, gemm_size)
        common = dict(
            device=device, threads=threads, work_dir=osp.abspath(work_dir))
        for spec in specs:
            skips = {
                v: variant_skip_reason(v, device, allow_emulation)
                for v in spec['variants']
            }
            run = [v for v in spec['variants'] if skips[v] is None]
            _log(f'{spec["source"]} {spec["name"]}: preparing '
                 f'({", ".join(run) or "nothing to run"})')
            prep = {}
            if run:
                prep = prepare_model(
                    dict(
                        common,
                        **dict(spec, variants=run),
                        agreement=agreement,
                        calib_data=calib_data))
            for variant in spec['variants']:
                rec = dict(
                    {
                        k: spec[k]
                        for k in ('name', 'config', 'source', 'checkpoint')
                    },
                    variant=variant,
                    device=device,
                    threads=threads,
                    latency_ms_b1=None,
                    throughput_b32=None,
                    peak_mem_mb=None,
                    **{k: prep.get(k)
                       for k in PREPARED})
                if skips[variant]:
                    rec['skipped'] = skips[variant]
                else:
                    _log(f'{spec["name"]} / {variant}')
                    job = dict(
                        common,
                        **spec,
                        variant=variant,
                        input_size=prep['input_size'],
                        weights=prep['weights'],
                        onnx_file=prep['onnx'].get(variant),
                        reference=None if variant in ('eager', 'pytorch') else
                        prep.get('reference'),
                        batch_sizes=list(batch_sizes),
                        repeats=repeats,
                        repeats_large=repeats_large,
                        warmup=warmup,
                        data_root=data_root,
                        eval_batch_size=eval_batch_size)
                    rec.update(run_worker(job, threads, worker_budget))
                for outcome in ('skipped', 'failed'):
                    if rec.get(outcome):
                        _log(f'{spec["name"]} / {variant}: {outcome}: '
                             f'{rec[outcome]}')
                records.append(rec)
    for rec in records:
        rec['other_processes_cores'] = round(load.others, 3)
    add_derived(records, gemm)
    meta = dict(
        describe_machine(device),
        device=device,
        threads=threads,
        gemm_peak_gflops=gemm,
        gemm_size=gemm_size,
        load_before=load.load_before,
        load_after=load.load_after,
        other_processes_cores=load.others)
    return records, meta
