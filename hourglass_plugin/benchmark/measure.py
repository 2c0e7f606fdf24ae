"""Measuring one model: preparation here, then one FRESH process per
variant (memory figures do not mix) with a time budget; a worker that fails
or overruns gives ``{'failed': reason}``, never a silent gap."""
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

from ..deploy.backends import ONNX_BACKENDS
from .machine import median_seconds

WORKER = f'import sys; from {__name__} import worker_main; ' \
    'worker_main(sys.argv[1])'


def evaluate_pckh(estimator, config_file: str, data_root: str,
                  batch_size: int) -> Dict[str, float]:
    """``PCKh`` / ``PCKh@0.1`` (percent) of ``estimator`` (anything with
    ``test_step``) with the config's test loader and evaluator, its
    ``data_root`` (and a ``headbox_file`` under it) moved to ``data_root``.

    Raises:
        KeyError: If the evaluator reports no ``PCK`` / ``PCK@0.1``.
    """
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    cfg = Config.fromfile(config_file)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    dataset = cfg.test_dataloader.dataset
    old, headbox = dataset.get('data_root') or '', dataset.get('headbox_file')
    if headbox and old and headbox.startswith(old):
        dataset.headbox_file = osp.join(data_root, headbox[len(old):])
    dataset.data_root = data_root
    cfg.test_dataloader.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    with torch.no_grad():
        for batch in loader:
            evaluator.process(estimator.test_step(batch), batch)
    metrics = evaluator.evaluate(len(loader.dataset))
    metrics = {k.split('/')[-1]: float(v) for k, v in metrics.items()}
    return {'PCKh': metrics['PCK'], 'PCKh@0.1': metrics['PCK@0.1']}


def prepare_model(job: dict) -> dict:
    """Per model, in the main process, for ``job`` (``config``,
    ``checkpoint``, ``device``, ``work_dir``, ``name``, ``variants``,
    ``agreement``, ``calib_data``): ``params``, ``source_params``, ``macs``,
    ``input_size`` [W, H], ``weights`` (random ones saved for the workers),
    ``onnx`` (variant -> file), ``reference`` (crops + eager heatmaps).

    Raises:
        FileNotFoundError: ``calib_data`` holds no crops the variants need.
    """
    from mmengine.runner import CheckpointLoader

    from ..deploy import (crop_sources, dataset_crops, prepare_onnx,
                          reference_heatmaps)
    from ..deploy.model_zoo import load_pose_model
    from .complexity import model_complexity
    torch.manual_seed(0)
    model = load_pose_model(job['config'], job['checkpoint'], job['device'])
    stem = osp.join(job['work_dir'], job['name'])
    weights, meta = job['checkpoint'], {}
    if weights is None:
        torch.save(model.state_dict(), weights := f'{stem}_random_init.pth')
    else:
        meta = CheckpointLoader.load_checkpoint(weights, 'cpu').get('meta')
    cost = model_complexity(model)
    out = dict(cost, input_size=list(cost['input_size']), weights=weights)
    out.update(source_params=(meta or {}).get('source_parameters'), onnx={})
    out['reference'] = None
    for suffix in ('', '_int8', '_int8_dynamic'):  # maybe of other weights
        if osp.isfile(f'{stem}{suffix}.onnx'):
            os.remove(f'{stem}{suffix}.onnx')
    for variant in set(job['variants']) & set(ONNX_BACKENDS):
        out['onnx'][variant] = prepare_onnx(  # one fp32 export for all
            model, variant, job['work_dir'], job['name'], job['calib_data'],
            True)
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
        torch.save(dict(crops=crops, heatmaps=refs), f'{stem}_ref.pt')
        out['reference'] = f'{stem}_ref.pt'
    return out


def measure_variant(job: dict) -> dict:
    """In a worker: latency, throughput, memory, agreement and PCKh of one
    model and variant (fields: ``docs/benchmark.md``). Memory: CPU peak RSS
    up to the end of timing (``ru_maxrss``) minus the RSS after imports;
    CUDA ``max_memory_allocated`` for PyTorch, None for ONNX Runtime (its
    allocations are invisible to torch; ``peak_mem_note`` says so)."""
    from ..deploy import (BackendPoseEstimator, OrtHeatmapRunner,
                          build_heatmap_runner, keypoint_agreement)
    from ..deploy.model_zoo import load_pose_model
    device, variant, onnx = job['device'], job['variant'], job['onnx_file']
    width, height = job['input_size']
    base_mb = psutil.Process().memory_info().rss / 2**20
    model = None
    if onnx:
        runner = OrtHeatmapRunner(onnx, job['threads'], device)
    else:
        model = load_pose_model(job['config'], job['weights'], device)
        runner = build_heatmap_runner(model, variant, threads=job['threads'])
    if cuda := device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)
    gen, latency = torch.Generator().manual_seed(0), {}
    for bs in job['batch_sizes']:
        inputs = torch.randn(bs, 3, height, width, generator=gen).to(device)
        n, warm = (job['repeats_large'], 1) if bs >= 8 else (job['repeats'],
                                                             job['warmup'])
        latency[str(bs)] = 1e3 * median_seconds(lambda: runner(inputs), warm,
                                                n)
    rec = dict(latency_ms=latency, latency_ms_b1=latency.get('1'))
    rec['throughput'] = {b: int(b) * 1e3 / ms for b, ms in latency.items()}
    rec['throughput_b32'] = rec['throughput'].get('32')
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base_mb
    rec['peak_mem_mb'] = None if cuda and onnx else round(peak, 1)
    if cuda and onnx:
        rec['peak_mem_note'] = ('n/a: ONNX Runtime allocates GPU memory '
                                "outside torch's allocator")
    model = model or load_pose_model(job['config'], job['weights'], device)
    if job['reference']:
        ref, detail = torch.load(job['reference']), {}
        for name, crops in ref['crops'].items():
            test = torch.cat(
                [runner(c.to(device)).cpu() for c in crops.split(8)])
            detail[name] = keypoint_agreement(model, ref['heatmaps'][name],
                                              test, (width, height))
        joints = sum(a['joints'] for a in detail.values())
        rec.update(
            kpt_agreement=sum(a['share'] * a['joints']
                              for a in detail.values()) / joints,
            kpt_agreement_detail=detail,
            max_abs_diff=max(a['max_abs_diff'] for a in detail.values()))
    if job['data_root'] and job['checkpoint']:
        estimator = model if variant in ('eager', 'pytorch') else \
            BackendPoseEstimator(model, runner)
        rec.update(
            evaluate_pckh(estimator, job['config'], job['data_root'],
                          job['eval_batch_size']))
    return rec


def run_worker(job: dict, threads: int, budget_s: float) -> dict:
    """Run ``job`` in a fresh process with ``threads`` OpenMP/MKL threads,
    its process group killed after ``budget_s``: the record of
    :func:`measure_variant`, or ``{'failed': reason}``."""
    env = dict(
        os.environ,
        **dict.fromkeys(('OMP_NUM_THREADS', 'MKL_NUM_THREADS'), str(threads)))
    with tempfile.TemporaryDirectory() as tmp:
        job_file, out_file = osp.join(tmp, 'job.json'), osp.join(tmp, 'out')
        with open(job_file, 'w') as f:
            json.dump(dict(job, out=out_file), f)
        proc = subprocess.Popen([sys.executable, '-c', WORKER, job_file],
                                env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                text=True,
                                start_new_session=True)
        try:
            output = proc.communicate(timeout=budget_s)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return dict(failed=f'stopped after its {budget_s:g} s time '
                        'budget (--worker-budget)')
        if proc.returncode == 0 and osp.isfile(out_file):
            with open(out_file) as f:
                return json.load(f)
        print(output, file=sys.stderr)
        last = (output.strip().splitlines() or [''])[-1][:160]
        return dict(failed=f'worker failed (exit code {proc.returncode}): '
                    f'{last}')


def worker_main(job_file: str) -> None:
    """Entry point of a measuring process: read the job, write the record."""
    with open(job_file) as f:
        job = json.load(f)
    torch.set_num_threads(job['threads'])
    torch.set_num_interop_threads(1)
    import mmpose.apis  # noqa: F401  (import cost out of the memory figure)

    import hourglass_plugin  # noqa: F401  (registries, checkpoint types)
    if job['onnx_file']:
        import onnxruntime  # noqa: F401
    result = measure_variant(job)
    with open(job['out'], 'w') as f:
        json.dump(result, f)
