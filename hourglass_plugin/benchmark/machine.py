"""What the machine is, what it reaches, and how busy others keep it.

Facts come from the libraries that report them: the CPU's instruction-set
level from ``torch.backends.cpu.get_cpu_capability()``, native bf16/fp16
support from torch's CPU feature queries, cores from the process's CPU
affinity, memory and load from ``psutil``. Times come from
``torch.utils.benchmark.Timer`` (CUDA work synchronised, the run's thread
count pinned). The speed reference is MEASURED: the fp32 ``torch.mm`` rate
of this machine at this moment (what a tuned BLAS reaches; convolution
libraries can beat it, so it is a reference, not a bound).
"""
import os
import platform
import shutil
import time
from typing import Callable, Dict, Optional

import psutil
import torch
from torch.utils.benchmark import Measurement, Timer


def _cpu_has(feature: str) -> bool:
    """torch's answer to ``torch.cpu._is_<feature>_supported()`` (False
    when this torch does not ask)."""
    query = getattr(torch.cpu, f'_is_{feature}_supported', None)
    return bool(query and query())


def describe_machine(device: str = 'cpu') -> Dict[str, object]:
    """The machine a run measures.

    Returns:
        dict: ``cpu`` (``platform.processor()``, else the architecture),
        ``cpu_capability`` (torch's: ``AVX512``, ``AVX2``, ``DEFAULT``...),
        ``cores`` (usable by this process), ``torch``, ``onnxruntime``
        (version or ``not installed``) and ``gpu`` (the CUDA device's name,
        None on the CPU).
    """
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = 'not installed'
    gpu = None
    if device.startswith('cuda') and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.device(device))
    return dict(
        cpu=platform.processor() or platform.machine(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        cores=len(os.sched_getaffinity(0)),
        torch=torch.__version__,
        onnxruntime=ort_version,
        gpu=gpu)


def variant_skip_reason(variant: str,
                        device: str,
                        allow_emulation: bool = False) -> Optional[str]:
    """Why ``variant`` should not be timed on ``device`` (None: run it).

    Args:
        variant (str): A ``hourglass_plugin.deploy`` backend.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        allow_emulation (bool): Run bf16/fp16 on a CPU without native
            support (torch's ``avx512_bf16`` / ``amx`` queries).

    Returns:
        str | None: One line naming what is missing.
    """
    from ..deploy import ONNX_BACKENDS, check_device, ort_providers
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            return 'no CUDA device (torch.cuda.is_available() is False)'
        try:
            check_device(variant, device)
            if variant in ONNX_BACKENDS:
                ort_providers(device)
        except RuntimeError as err:
            return str(err)
        return None
    native = dict(
        bf16=_cpu_has('avx512_bf16') or _cpu_has('amx_tile'),
        fp16=_cpu_has('amx_fp16'))
    if variant in native and not native[variant] and not allow_emulation:
        return (f'{variant} is emulated on this CPU (torch reports no native '
                f'{variant} instructions); --allow-emulation runs it')
    if variant == 'compile' and not any(
            map(shutil.which, ('c++', 'g++', 'clang++'))):
        return 'torch.compile (inductor) needs a C++ compiler on the PATH'
    return None


def median_seconds(fn: Callable[[], object], warmup: int,
                   repeats: int) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeats`` runs after
    ``warmup`` untimed ones (``torch.utils.benchmark.Timer`` with the
    current torch thread count; CUDA synchronised)."""
    timer = Timer(
        'fn()', globals=dict(fn=fn), num_threads=torch.get_num_threads())
    if warmup:
        timer.timeit(warmup)
    runs = [timer.timeit(1) for _ in range(max(1, repeats))]
    return Measurement.merge(runs)[0].median


def gemm_gflops(device: str, size: int = 4096) -> float:
    """The measured fp32 matmul rate in GFLOP/s: median ``torch.mm`` of two
    ``size x size`` matrices (2 size^3 FLOP each) with the current threads,
    ``Timer.blocked_autorange`` over at least one second."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    out = torch.empty(size, size, device=device)  # no allocation timed
    timer = Timer(
        'torch.mm(a, b, out=out)',
        globals=dict(torch=torch, a=a, b=b, out=out),
        num_threads=torch.get_num_threads())
    timer.timeit(1)
    return 2 * size**3 / timer.blocked_autorange(min_run_time=1).median / 1e9


class LoadMonitor:
    """CPU cores used by OTHER processes while a block runs (psutil).

    ``with LoadMonitor() as load: ...`` then ``load.others`` (cores, average
    over the block: the machine's busy CPU time minus this process's and its
    waited-for children's, over wall time), ``load.load_before`` /
    ``load.load_after`` (1-min load averages, ours included).
    """

    @staticmethod
    def _seconds() -> tuple:
        """(busy CPU seconds of the machine, of this process + children)."""
        times, own = psutil.cpu_times(), psutil.Process().cpu_times()
        busy = sum(
            getattr(times, k, 0.0)
            for k in ('user', 'nice', 'system', 'irq', 'softirq'))
        return busy, (
            own.user + own.system + own.children_user + own.children_system)

    def __enter__(self) -> 'LoadMonitor':
        self.load_before = psutil.getloadavg()[0]
        self._start = (time.monotonic(), *self._seconds())
        return self

    def __exit__(self, *exc) -> None:
        (wall0, busy0, own0), now = self._start, self._seconds()
        wall = max(time.monotonic() - wall0, 1e-9)
        self.others = max(0.0, (now[0] - busy0) - (now[1] - own0)) / wall
        self.load_after = psutil.getloadavg()[0]
