"""The machine (torch's CPU capability, ``psutil``), its measured fp32
``torch.mm`` rate (the speed reference, not a bound) and timings from
``torch.utils.benchmark.Timer``."""
import os
import platform
import shutil
import time
from typing import Callable, Optional

import psutil
import torch
from torch.utils.benchmark import Measurement, Timer


def _cpu_has(feature: str) -> bool:
    """``torch.cpu._is_<feature>_supported()`` (False where torch lacks it)."""
    query = getattr(torch.cpu, f'_is_{feature}_supported', None)
    return bool(query and query())


def describe_machine(device: str = 'cpu') -> dict:
    """``cpu`` (``platform.processor()`` or the architecture),
    ``cpu_capability`` (torch's: ``AVX512``, ``AVX2``...), ``cores`` (usable
    by this process), ``gpu`` (CUDA device name or None), ``torch`` and
    ``onnxruntime`` versions."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        ort = version('onnxruntime')
    except PackageNotFoundError:
        ort = 'not installed'
    cuda = device.startswith('cuda') and torch.cuda.is_available()
    return dict(
        cpu=platform.processor() or platform.machine(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        cores=len(os.sched_getaffinity(0)),
        gpu=torch.cuda.get_device_name(torch.device(device)) if cuda else None,
        torch=torch.__version__,
        onnxruntime=ort)


def variant_skip_reason(variant: str,
                        device: str,
                        allow_emulation: bool = False) -> Optional[str]:
    """Why ``variant`` (a ``hourglass_plugin.deploy`` backend) should not be
    timed on ``device`` (``cpu`` / ``cuda[:i]``), in one line; None: run it.
    ``allow_emulation`` runs bf16/fp16 on a CPU without native support."""
    from ..deploy import ONNX_BACKENDS, check_backend_device, ort_providers
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            return 'no CUDA device (torch.cuda.is_available() is False)'
        try:
            check_backend_device(variant, device)
            if variant in ONNX_BACKENDS:
                ort_providers(device)
        except RuntimeError as err:
            return str(err)
        return None
    native = dict(
        bf16=_cpu_has('avx512_bf16') or _cpu_has('amx_tile'),
        fp16=_cpu_has('amx_fp16'))
    if not native.get(variant, True) and not allow_emulation:
        return (f'{variant} is emulated on this CPU (torch reports no native '
                f'{variant} instructions); --allow-emulation runs it')
    if variant == 'compile' and not any(
            map(shutil.which, ('c++', 'g++', 'clang++'))):
        return 'torch.compile (inductor) needs a C++ compiler on the PATH'
    return None


def thread_timer(stmt: str, **names) -> Timer:
    """A ``torch.utils.benchmark.Timer`` of ``stmt`` over ``names`` with
    the current torch thread count (its default is 1 thread)."""
    return Timer(stmt, globals=names, num_threads=torch.get_num_threads())


def median_seconds(fn: Callable[[], object], warmup: int,
                   repeats: int) -> float:
    """Median seconds of ``fn()``: ``repeats`` runs after ``warmup``."""
    timer = thread_timer('fn()', fn=fn)
    if warmup:
        timer.timeit(warmup)
    runs = [timer.timeit(1) for _ in range(max(1, repeats))]
    return Measurement.merge(runs)[0].median


def gemm_gflops(device: str, size: int = 4096) -> float:
    """The measured fp32 matmul rate in GFLOP/s: median ``torch.mm`` of two
    ``size x size`` matrices (2 size^3 FLOP), ``blocked_autorange`` over at
    least one second."""
    gen = torch.Generator().manual_seed(0)
    ab = [torch.randn(size, size, generator=gen).to(device) for _ in 'ab']
    out = torch.empty_like(ab[0])  # no allocation timed
    timer = thread_timer('torch.mm(*ab, out=out)', torch=torch, ab=ab, out=out)
    timer.timeit(1)
    return 2 * size**3 / timer.blocked_autorange(min_run_time=1).median / 1e9


class LoadMonitor:
    """``with LoadMonitor() as load:`` -> ``load.others``: CPU cores used by
    OTHER processes during the block (the machine's busy CPU time minus this
    process's and its waited-for children's, over wall time, from psutil);
    ``load.load_before`` / ``load_after``: 1-min load averages."""

    @staticmethod
    def _seconds() -> tuple:
        times, own = psutil.cpu_times(), psutil.Process().cpu_times()
        busy = sum(
            getattr(times, k, 0.0)
            for k in ('user', 'nice', 'system', 'irq', 'softirq'))
        return time.monotonic(), busy, own.user + own.system + \
            own.children_user + own.children_system

    def __enter__(self) -> 'LoadMonitor':
        self.load_before, self._start = psutil.getloadavg()[0], self._seconds()
        return self

    def __exit__(self, *exc) -> None:
        (wall, busy, own), start = self._seconds(), self._start
        self.others = max(0.0, busy - start[1] - own + start[2]) / max(
            wall - start[0], 1e-9)
        self.load_after = psutil.getloadavg()[0]
