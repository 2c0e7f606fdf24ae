"""The model benchmark: every model and variant of a run, side by side.

:func:`model_specs` turns ``MODEL[::CHECKPOINT]`` arguments into specs;
:func:`run_benchmark` measures the machine's ceilings once, prepares each
model in this process (complexity, ONNX export / int8 calibration, the
agreement reference) and times each variant in a fresh worker process with a
time budget; variants the device cannot run natively are skipped with the
reason.
"""
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import torch

from .machine import (LoadMonitor, describe_cpu, gemm_peak_gflops,
                      theoretical_peaks, variant_skip_reason)
from .measure import prepare_model, run_worker
from .report import add_derived


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
    listed_all = checkpoints or [None] * len(models)
    specs, names = [], set()
    for model, listed in zip(models, listed_all):
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
                  allow_emulation: bool = False,
                  int8_keep_fp32: int = 0) -> Tuple[List[dict], dict]:
    """Measure every model and variant of ``specs``.

    Args:
        specs (list[dict]): From :func:`model_specs`.
        work_dir (str): ONNX files, random-init weights, references.
        calib_data (str, optional): Data root of the real crops (int8
            calibration, keypoint agreement), e.g. the repository's
            ``data/``; needed for ``int8`` and the agreement check.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        threads (int): PyTorch / ONNX Runtime threads of every worker.
        batch_sizes (list[int]): Timed batch sizes.
        repeats, repeats_large, warmup (int): Timed runs at batch < 8 and
            >= 8, untimed runs first (1 at batch >= 8).
        gemm_size (int): Matrix side of the GEMM measurement.
        data_root (str, optional): Dataset root for PCKh (models with a
            checkpoint).
        eval_batch_size (int): Batch size of the PCKh loop.
        agreement (bool): Measure the keypoint agreement with fp32.
        worker_budget (float): Seconds one worker may take.
        allow_emulation (bool): Run bf16/fp16 where the CPU emulates them.
        int8_keep_fp32 (int): Convolutions the ``int8`` variant leaves in
            fp32, those int8 rounds at the highest cost (ranked on the
            calibration crops, one calibration per convolution; see
            ``deploy.prepare_onnx``); recorded per int8 record.

    Returns:
        tuple: (records, meta): one record per model and variant (skipped
        ones with ``skipped``), and the run's conditions.
    """
    torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    records = []
    with LoadMonitor() as load:
        _log(f'fp32 GEMM on {device}, {threads} threads ...')
        if device.startswith('cuda') and not torch.cuda.is_available():
            gemm, peaks = None, dict(basis='no CUDA device')
        else:
            gemm = gemm_peak_gflops(device, gemm_size)
            peaks = theoretical_peaks(device, threads)
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
            prep = prepare_model(
                dict(
                    common,
                    **dict(spec, variants=run),
                    agreement=agreement,
                    calib_data=calib_data,
                    int8_keep_fp32=int8_keep_fp32)) if run else None
            for variant in spec['variants']:
                rec = dict(
                    name=spec['name'],
                    config=spec['config'],
                    source=spec['source'],
                    checkpoint=spec['checkpoint'],
                    variant=variant,
                    device=device,
                    threads=threads,
                    params=prep['params'] if prep else None,
                    source_params=prep['source_params'] if prep else None,
                    macs=prep['macs'] if prep else None,
                    input_size=prep['input_size'] if prep else None,
                    kpt_agreement_floor=prep['agreement_floor']
                    if prep else None,
                    latency_ms_b1=None,
                    throughput_b32=None,
                    peak_mem_mb=None)
                if variant == 'int8' and int8_keep_fp32:
                    rec['int8_keep_fp32'] = int8_keep_fp32
                    rec['int8_mac_share'] = prep and prep.get('int8_mac_share')
                if skips[variant] is None:
                    _log(f'{spec["name"]} / {variant}')
                    rec.update(
                        run_worker(
                            _job(common, spec, variant, prep, batch_sizes,
                                 repeats, repeats_large, warmup, data_root,
                                 eval_batch_size), threads, worker_budget))
                else:
                    rec['skipped'] = skips[variant]
                if rec.get('skipped'):
                    _log(f'{spec["name"]} / {variant}: skipped: '
                         f'{rec["skipped"]}')
                records.append(rec)
    for rec in records:
        rec['other_processes_cores'] = round(load.others, 3)
    add_derived(records, gemm, peaks)
    meta = dict(
        cpu=describe_cpu()
        if not device.startswith('cuda') else _cuda_name(device),
        device=device,
        threads=threads,
        torch=torch.__version__,
        onnxruntime=_ort_version(),
        gemm_peak_gflops=gemm,
        gemm_size=gemm_size,
        theoretical_peak_gflops=peaks.get('fp32'),
        peak_basis=peaks.get('basis'),
        clock_ghz=peaks.get('clock_ghz'),
        load_before=load.load_before,
        load_after=load.load_after,
        other_processes_cores=load.others)
    return records, meta


def _job(common: dict, spec: dict, variant: str, prep: dict,
         batch_sizes: Sequence[int], repeats: int, repeats_large: int,
         warmup: int, data_root: Optional[str], eval_batch_size: int) -> dict:
    """The JSON job of one worker."""
    job = dict(
        common,
        **spec,
        variant=variant,
        input_size=prep['input_size'],
        weights=prep['weights'],
        onnx_file=prep['onnx'].get(variant),
        reference=None if variant in ('eager',
                                      'pytorch') else prep.get('reference'),
        batch_sizes=list(batch_sizes),
        repeats=repeats,
        repeats_large=repeats_large,
        warmup=warmup,
        data_root=data_root,
        eval_batch_size=eval_batch_size)
    job.pop('variants')
    return job


def _cuda_name(device: str) -> str:
    if not torch.cuda.is_available():
        return 'no CUDA device'
    return torch.cuda.get_device_name(torch.device(device))


def _ort_version() -> str:
    try:
        import onnxruntime
        return onnxruntime.__version__
    except ImportError:
        return 'not installed'
