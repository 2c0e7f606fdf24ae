"""Measuring one model: preparation in the main process, then one FRESH
process per variant (so memory figures do not mix), each with a time budget.

A worker is ``python -m hourglass_plugin.benchmark.worker JOB.json``: it
reads the job, measures and writes its record to ``job['out']``. A worker
that exits non-zero, writes nothing or overruns its budget gives a record
with ``failed`` (the reason), never a silent gap.
"""
import json
import os
import os.path as osp
import resource
import signal
import subprocess
import sys
import tempfile
from typing import Dict

import psutil
import torch
from mmengine.runner import CheckpointLoader

from ..deploy.backends import ONNX_BACKENDS
from .machine import median_seconds


def evaluate_pckh(estimator, config_file: str, data_root: str,
                  batch_size: int) -> Dict[str, float]:
    """PCKh of ``estimator`` with the config's test loader and evaluator.

    Args:
        estimator: Anything with ``test_step`` (the model, or a
            ``BackendPoseEstimator``).
        config_file (str): The model's config.
        data_root (str): Replaces ``test_dataloader.dataset.data_root``; a
            ``headbox_file`` that starts with the old data_root moves along.
        batch_size (int): Test batch size.

    Returns:
        dict: ``PCKh`` and ``PCKh@0.1`` (the evaluator's ``PCK`` and
        ``PCK@0.1``, in percent).

    Raises:
        KeyError: If the evaluator reports no ``PCK`` / ``PCK@0.1``.
    """
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    cfg = Config.fromfile(config_file)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    loader_cfg = cfg.test_dataloader
    dataset = loader_cfg.dataset
    old_root = dataset.get('data_root') or ''
    headbox = dataset.get('headbox_file')
    if headbox and old_root and headbox.startswith(old_root):
        dataset.headbox_file = osp.join(data_root, headbox[len(old_root):])
    dataset.data_root = data_root
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    with torch.no_grad():
        for batch in loader:
            evaluator.process(estimator.test_step(batch), batch)
    metrics = {
        k.split('/')[-1]: v
        for k, v in evaluator.evaluate(len(loader.dataset)).items()
    }
    return {
        'PCKh': float(metrics['PCK']),
        'PCKh@0.1': float(metrics['PCK@0.1'])
    }


def prepare_model(job: dict) -> dict:
    """Per model, in the main process: params, MACs, the agreement crops and
    their eager reference heatmaps, and the ONNX files its variants need.
    Without a checkpoint the random initial weights are saved, so that every
    worker runs the same network.

    Args:
        job (dict): ``config``, ``checkpoint`` (or None), ``device``,
            ``work_dir``, ``name``, ``variants`` (to prepare), ``agreement``
            (bool) and ``calib_data`` (the data root of the real crops:
            ``mpii`` + ``coco_gt`` for the agreement, ``coco_det`` for int8
            calibration; see ``deploy.crops``).

    Returns:
        dict: ``params``, ``source_params`` (``meta.source_parameters`` of a
        converted checkpoint, written by ``tools/convert_checkpoint.py``;
        else None), ``macs``, ``input_size`` ``[W, H]``, ``weights``,
        ``onnx`` (variant -> file) and ``reference`` (file of the crops and
        their eager heatmaps, when agreement is measured).

    Raises:
        FileNotFoundError: ``calib_data`` holds no crops the variants need.
    """
    from ..deploy import (crop_sources, dataset_crops, onnx_paths,
                          prepare_onnx, reference_heatmaps)
    from ..deploy.model_zoo import load_pose_model
    from .complexity import model_complexity
    torch.manual_seed(0)
    model = load_pose_model(job['config'], job['checkpoint'], job['device'])
    weights = job['checkpoint']
    if weights is None:  # every worker must run the same random weights
        weights = osp.join(job['work_dir'], f'{job["name"]}_random_init.pth')
        torch.save(model.state_dict(), weights)
    cost = model_complexity(model)
    meta = {}
    if job['checkpoint']:
        meta = CheckpointLoader.load_checkpoint(
            job['checkpoint'], map_location='cpu').get('meta') or {}
    out = dict(
        params=cost['params'],
        source_params=meta.get('source_parameters'),
        macs=cost['macs'],
        input_size=list(cost['input_size']),
        weights=weights,
        onnx={})
    for stale in onnx_paths(job['work_dir'], job['name']).values():
        if osp.isfile(stale):  # from another run, maybe other weights
            os.remove(stale)
    for variant in set(job['variants']) & set(ONNX_BACKENDS):
        out['onnx'][variant] = prepare_onnx(
            model,
            variant,
            job['work_dir'],
            name=job['name'],
            calib_data=job['calib_data'],
            reuse=True)  # one fp32 export for all of them
    if job['agreement'] and set(job['variants']) - {'eager', 'pytorch'}:
        sources = crop_sources(job['calib_data'])
        crops = {
            name: dataset_crops(model, sources[name], flip=True).cpu()
            for name in ('mpii', 'coco_gt') if name in sources
        }
        if not crops:
            raise FileNotFoundError(
                f'no real crops for the agreement check under '
                f'{job["calib_data"]} (annotations/mpii_val.json or '
                'coco_multi/test_coco.json)')
        refs = {k: reference_heatmaps(model, v) for k, v in crops.items()}
        out['reference'] = osp.join(job['work_dir'], f'{job["name"]}_ref.pt')
        torch.save(dict(crops=crops, heatmaps=refs), out['reference'])
    return out


def measure_variant(job: dict) -> dict:
    """In a worker: latency, throughput, memory, agreement and PCKh of one
    model and variant (the fields: see ``docs/benchmark.md``).

    Memory: on the CPU the peak resident memory of the worker up to the end
    of timing (``ru_maxrss``: loading included) minus its resident memory
    after imports; on CUDA ``torch.cuda.max_memory_allocated`` for PyTorch
    variants and None for ONNX Runtime (its allocations are invisible to
    torch; ``peak_mem_note`` says so).
    """
    from ..deploy import (BackendPoseEstimator, OrtHeatmapRunner,
                          build_heatmap_runner, keypoint_agreement)
    from ..deploy.model_zoo import load_pose_model
    device, variant = job['device'], job['variant']
    width, height = job['input_size']
    base_mb = psutil.Process().memory_info().rss / 2**20
    cuda = device.startswith('cuda')
    model = None
    if variant in ONNX_BACKENDS:
        runner = OrtHeatmapRunner(job['onnx_file'], job['threads'], device)
    else:
        model = load_pose_model(job['config'], job['weights'], device)
        runner = build_heatmap_runner(model, variant, threads=job['threads'])
    gen = torch.Generator().manual_seed(0)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    latency = {}
    for bs in job['batch_sizes']:
        inputs = torch.randn(bs, 3, height, width, generator=gen).to(device)
        large = bs >= 8
        latency[str(bs)] = 1e3 * median_seconds(
            lambda: runner(inputs), 1 if large else job['warmup'],
            job['repeats_large'] if large else job['repeats'])
    record = dict(
        latency_ms=latency,
        latency_ms_b1=latency.get('1'),
        throughput={
            bs: int(bs) * 1e3 / ms
            for bs, ms in latency.items()
        })
    record['throughput_b32'] = record['throughput'].get('32')
    if cuda and variant in ONNX_BACKENDS:
        record.update(
            peak_mem_mb=None,
            peak_mem_note='n/a: ONNX Runtime allocates GPU memory outside '
            "torch's allocator")
    elif cuda:
        record['peak_mem_mb'] = round(
            torch.cuda.max_memory_allocated(device) / 2**20, 1)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        record['peak_mem_mb'] = round(peak - base_mb, 1)
    model = model or load_pose_model(job['config'], job['weights'], device)
    if job.get('reference'):
        ref = torch.load(job['reference'])
        detail = {}
        for name, crops in ref['crops'].items():
            test = torch.cat(
                [runner(c.to(device)).cpu() for c in crops.split(8)])
            detail[name] = keypoint_agreement(model, ref['heatmaps'][name],
                                              test, (width, height))
        joints = sum(a['joints'] for a in detail.values())
        record.update(
            kpt_agreement=sum(a['share'] * a['joints']
                              for a in detail.values()) / joints,
            kpt_agreement_detail=detail,
            max_abs_diff=max(a['max_abs_diff'] for a in detail.values()))
    if job.get('data_root') and job['checkpoint']:
        estimator = model if variant in ('eager', 'pytorch') else \
            BackendPoseEstimator(model, runner)
        record.update(
            evaluate_pckh(estimator, job['config'], job['data_root'],
                          job['eval_batch_size']))
    return record


def run_worker(job: dict, threads: int, budget_s: float) -> dict:
    """Run ``job`` in a fresh Python process with pinned threads.

    Args:
        job (dict): The job for :func:`measure_variant` (JSON-serialisable).
        threads (int): ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` (and the
            job's own torch / ONNX Runtime threads).
        budget_s (float): Wall-time budget; the worker's whole process group
            (``torch.compile`` starts compiler processes) is killed after it.

    Returns:
        dict: The worker's record, or ``{'failed': reason}`` when it ran out
        of time, exited non-zero or wrote nothing (its output then goes to
        stderr).
    """
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        job_file, out_file = osp.join(tmp, 'job.json'), osp.join(tmp, 'out')
        with open(job_file, 'w') as f:
            json.dump(dict(job, out=out_file), f)
        proc = subprocess.Popen(
            [sys.executable, '-m', f'{__package__}.worker', job_file],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=budget_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return dict(failed=f'stopped after its {budget_s:g} s time '
                        'budget (--worker-budget)')
        if proc.returncode != 0 or not osp.isfile(out_file):
            print(output, file=sys.stderr)
            last = (output.strip().splitlines() or [''])[-1][:160]
            return dict(failed=f'worker failed (exit code '
                        f'{proc.returncode}): {last}')
        with open(out_file) as f:
            return json.load(f)


def worker_main(job_file: str) -> None:
    """Entry point of a measuring process: read the job, write the record."""
    with open(job_file) as f:
        job = json.load(f)
    torch.set_num_threads(job['threads'])
    torch.set_num_interop_threads(1)
    import mmpose.apis  # noqa: F401  (import cost out of the memory figure)

    import hourglass_plugin  # noqa: F401  (registries, checkpoint types)
    if job['variant'] in ONNX_BACKENDS:
        import onnxruntime  # noqa: F401
    result = measure_variant(job)
    with open(job['out'], 'w') as f:
        json.dump(result, f)
