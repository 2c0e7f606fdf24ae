"""What the machine can do: CPU/GPU description, the measured fp32 GEMM
rate, the theoretical peaks, which variants run natively, and how busy the
other processes keep the machine.

Two ceilings are reported, and they bound different things:

* ``gemm_peak_gflops`` -- measured: the median fp32 ``torch.mm`` of two
  4096 x 4096 matrices with the run's threads. What a well-tuned fp32 BLAS
  reaches on this machine right now; a convolution library can beat it
  (ONNX Runtime's NCHWc kernels did on AMD EPYC CPUs), so it is a reference,
  not a bound.
* ``theoretical_peak_gflops`` -- computed: cores x FMA pipes x vector lanes
  x clock x 2 FLOP per fused multiply-add, from what the CPU reports
  (``/proc/cpuinfo`` flags, vendor, family; cpufreq's maximum clock when the
  kernel exposes it, else ``cpu MHz``) or the GPU's device properties. A VM
  reports the nominal clock, not the boost clock the cores run at (on the
  2-core EPYC VM here 2.60 GHz reported, 4.0 GHz measured, and ONNX Runtime
  ran at 133% of the 2.60 GHz figure), so the clock is also measured with a
  chain of dependent integer additions (one per cycle) and the larger value
  is used: nothing can exceed the peak at that clock. Reduced-precision
  arithmetic has its own peak: ``bf16`` 2x fp32 (AVX512-BF16 ``vdpbf16ps``:
  2 products per 32-bit lane), ``int8`` 4x fp32 (VNNI ``vpdpbusd``: 4
  products per lane; also the upper bound of AVX2's ``vpmaddubsw``
  sequence), AMX tiles 1,024 bf16 / 2,048 int8 FLOP per cycle per core
  (Intel's figures).

FMA pipes and lanes are not in ``/proc/cpuinfo``; they follow from the
vector extensions and the micro-architecture (vendor manuals / Agner Fog's
instruction tables): AMD Zen 1 2 x 128-bit, Zen 2-4 2 x 256-bit (Zen 4
splits AVX-512 into two 256-bit halves), Zen 5 2 x 512-bit; Intel 2 FMA
units of the widest vector width (an upper bound: some Xeon SKUs have one
512-bit unit). The table is an upper bound by design.
"""
import os
import platform
import shutil
import statistics
import time
from functools import lru_cache
from typing import Callable, Dict, FrozenSet, Optional

import torch

#: variant -> arithmetic whose peak bounds it
ARITHMETIC = {
    'pytorch': 'fp32',
    'eager': 'fp32',
    'channels_last': 'fp32',
    'compile': 'fp32',
    'onnx': 'fp32',
    'int8': 'int8',
    'int8-dynamic': 'int8',
    'bf16': 'bf16',
    'fp16': 'fp16',
}
# CUDA fp32 cores per SM by compute capability (major, minor); NVIDIA's CUDA
# C++ Programming Guide, "Arithmetic Instructions" throughput table
_CUDA_FP32_PER_SM = {
    (6, 0): 64,
    (6, 1): 128,
    (7, 0): 64,
    (7, 5): 64,
    (8, 0): 64,
    (8, 6): 128,
    (8, 7): 128,
    (8, 9): 128,
    (9, 0): 128,
    (10, 0): 128,
    (12, 0): 128
}


@lru_cache(maxsize=None)
def cpu_info() -> Dict[str, object]:
    """The CPU as Linux reports it.

    Returns:
        dict: ``name``, ``vendor``, ``family``, ``model`` (ints, -1 when
        unknown), ``cores`` (usable by this process), ``flags`` (frozenset
        of ``/proc/cpuinfo`` flags), ``clock_ghz`` (cpufreq's maximum when
        exposed, else the largest ``cpu MHz``; None when neither is) and
        ``clock_source``.
    """
    fields: Dict[str, str] = {}
    mhz = []
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key, value = key.strip(), value.strip()
                if key == 'cpu MHz':
                    mhz.append(float(value))
                fields.setdefault(key, value)
    except OSError:
        pass
    clock, source = None, 'unknown'
    try:
        with open(
                '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq') as f:
            clock, source = int(f.read()) / 1e6, 'cpufreq cpuinfo_max_freq'
    except (OSError, ValueError):
        if mhz:
            clock, source = max(mhz) / 1e3, '/proc/cpuinfo cpu MHz'
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return dict(
        name=fields.get('model name') or platform.processor()
        or platform.machine(),
        vendor=fields.get('vendor_id', ''),
        family=int(fields.get('cpu family', -1)),
        model=int(fields.get('model', -1)),
        cores=cores,
        flags=frozenset(fields.get('flags', '').split()),
        clock_ghz=clock,
        clock_source=source)


_CLOCK_PROBE_C = r"""
#include <stdint.h>
uint64_t add_chain(uint64_t n) {
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; ++i) {
        __asm__ volatile(
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
            "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
            : "+r"(x));
    }
    return x;
}
"""


@lru_cache(maxsize=None)
def measure_clock_ghz(adds: int = 400_000_000) -> Optional[float]:
    """The core clock while busy, measured: a chain of dependent integer
    additions retires one per cycle on every x86 core since the Pentium, so
    ``adds / seconds`` is the clock (boost included, which ``/proc/cpuinfo``
    in a VM does not show). Compiled with the system C compiler at the first
    call; best of 3.

    Returns:
        float | None: GHz, or None off x86-64 or without a C compiler.
    """
    import ctypes
    import subprocess
    import tempfile
    compiler = shutil.which('cc') or shutil.which('gcc')
    if platform.machine() not in ('x86_64', 'AMD64') or compiler is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = os.path.join(tmp, 'probe.c'), os.path.join(tmp, 'probe.so')
        with open(src, 'w') as f:
            f.write(_CLOCK_PROBE_C)
        try:
            subprocess.run(
                [compiler, '-O1', '-shared', '-fPIC', src, '-o', lib],
                check=True,
                capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        chain = ctypes.CDLL(lib).add_chain
        chain.argtypes, chain.restype = [ctypes.c_uint64], ctypes.c_uint64
        best = float('inf')
        for _ in range(3):
            start = time.perf_counter()
            chain(adds // 8)
            best = min(best, time.perf_counter() - start)
    return adds / best / 1e9


def fma_layout(info: Dict[str, object]) -> Dict[str, object]:
    """FMA pipes per core and fp32 lanes per pipe of a CPU (upper bound).

    Args:
        info (dict): :func:`cpu_info`.

    Returns:
        dict: ``pipes``, ``lanes`` (fp32 per pipe per cycle) and ``why``.
    """
    flags: FrozenSet[str] = info['flags']
    amd = info['vendor'] == 'AuthenticAMD'
    if 'avx512f' in flags and not (amd and info['family'] < 0x1A):
        return dict(pipes=2, lanes=16, why='2 x 512-bit FMA (AVX-512)')
    if 'fma' in flags and 'avx2' in flags:
        if amd and info['family'] == 0x17 and info['model'] < 0x30:
            return dict(pipes=2, lanes=4, why='2 x 128-bit FMA (Zen 1)')
        return dict(
            pipes=2,
            lanes=8,
            why='2 x 256-bit FMA (AVX2' +
            (', AVX-512 as 2 halves' if 'avx512f' in flags else '') + ')')
    if 'avx' in flags:
        return dict(pipes=2, lanes=8, why='256-bit add + mul (AVX, no FMA)')
    return dict(pipes=2, lanes=4, why='128-bit add + mul (SSE)')


def theoretical_peaks(device: str = 'cpu',
                      threads: Optional[int] = None) -> Dict[str, object]:
    """The device's theoretical peaks in GFLOP/s (2 FLOP per multiply-add).

    Args:
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        threads (int, optional): CPU threads of the run; the peak counts
            ``min(threads, cores)`` cores.

    Returns:
        dict: ``fp32``, ``bf16``, ``int8``, ``fp16`` (GFLOP/s, None when
        unknown), ``basis`` (the formula with its numbers) and, on a CPU,
        ``clock_ghz`` (the larger of the reported and the measured clock).
    """
    if device.startswith('cuda'):
        return _cuda_peaks(device)
    info = cpu_info()
    cores = min(threads or info['cores'], info['cores'])
    layout = fma_layout(info)
    clock, source = info['clock_ghz'], info['clock_source']
    measured = measure_clock_ghz()
    if measured is not None and (clock is None or measured > clock):
        clock, source = measured, (
            f'measured; the CPU reports {info["clock_ghz"]:.2f} GHz'
            if info['clock_ghz'] else 'measured')
    if clock is None:
        return dict(
            fp32=None,
            bf16=None,
            int8=None,
            fp16=None,
            basis='no clock reported by the CPU')
    per_cycle = layout['pipes'] * layout['lanes'] * 2
    fp32 = cores * per_cycle * clock
    flags = info['flags']
    if 'amx_bf16' in flags:
        bf16 = cores * 1024 * clock
    elif 'avx512_bf16' in flags:
        bf16 = 2 * fp32
    else:
        bf16 = fp32  # emulated: converted to fp32 and computed there
    int8 = cores * 2048 * clock if 'amx_int8' in flags else 4 * fp32
    fp16 = cores * 1024 * clock if 'amx_fp16' in flags else (
        2 * fp32 if 'avx512_fp16' in flags else fp32)
    return dict(
        fp32=fp32,
        bf16=bf16,
        int8=int8,
        fp16=fp16,
        basis=f'{cores} cores x {layout["why"]} = {per_cycle} fp32 FLOP/cycle '
        f'x {clock:.2f} GHz ({source})',
        clock_ghz=clock)


def _cuda_peaks(device: str) -> Dict[str, object]:
    """CUDA peaks from the device properties (unrun on this project's CI:
    no GPU was available when it was written)."""
    props = torch.cuda.get_device_properties(torch.device(device))
    per_sm = _CUDA_FP32_PER_SM.get((props.major, props.minor))
    clock_khz = getattr(props, 'clock_rate', None)
    if per_sm is None or not clock_khz:
        return dict(
            fp32=None,
            bf16=None,
            int8=None,
            fp16=None,
            basis=f'{props.name}: compute capability '
            f'{props.major}.{props.minor} or clock not known')
    fp32 = props.multi_processor_count * per_sm * 2 * clock_khz / 1e6
    return dict(
        fp32=fp32,
        bf16=None,
        int8=None,
        fp16=None,
        basis=f'{props.multi_processor_count} SMs x {per_sm} fp32 lanes x 2 '
        f'x {clock_khz / 1e6:.2f} GHz ({props.name}; tensor-core peaks not '
        'derived)')


def variant_skip_reason(variant: str,
                        device: str,
                        allow_emulation: bool = False) -> Optional[str]:
    """Why ``variant`` should not be timed on ``device`` (None: run it).

    Args:
        variant (str): A ``hourglass_plugin.deploy`` backend.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        allow_emulation (bool): Run variants the hardware only emulates
            (bf16/fp16 on a CPU without those instructions).

    Returns:
        str | None: One line naming what is missing.
    """
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            return 'no CUDA device (torch.cuda.is_available() is False)'
        if variant in ('onnx', 'int8', 'int8-dynamic'):
            import onnxruntime as ort
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                return 'onnxruntime has no CUDAExecutionProvider'
        return None
    flags = cpu_info()['flags']
    if variant == 'bf16' and not flags & {'avx512_bf16', 'amx_bf16'}:
        if not allow_emulation:
            return ('bf16 is emulated on this CPU (no avx512_bf16/amx_bf16 '
                    'flag); --allow-emulation runs it')
    if variant == 'fp16' and not flags & {'avx512_fp16', 'amx_fp16'}:
        if not allow_emulation:
            return ('fp16 is emulated on this CPU (no avx512_fp16/amx_fp16 '
                    'flag); --allow-emulation runs it')
    if variant == 'compile' and not (shutil.which('c++') or shutil.which('g++')
                                     or shutil.which('clang++')):
        return 'torch.compile (inductor) needs a C++ compiler on the PATH'
    return None


def synchronize(device: str) -> None:
    """Wait for queued CUDA work (no-op on the CPU)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int,
                   device: str) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeats`` runs after
    ``warmup`` untimed ones (CUDA work synchronised)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak_gflops(device: str, size: int = 4096, repeats: int = 5) -> float:
    """The measured fp32 matmul rate: median ``torch.mm`` of two
    ``size x size`` matrices, in GFLOP/s (2 size^3 FLOP per product)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    out = torch.empty(size, size, device=device)  # no allocation timed
    with torch.no_grad():
        seconds = median_seconds(lambda: torch.mm(a, b, out=out), 2, repeats,
                                 device)
    return 2 * size**3 / seconds / 1e9


def cpu_seconds() -> tuple:
    """(busy CPU seconds of the whole machine from ``/proc/stat``, CPU
    seconds of this process and its waited-for children)."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:8]]
    user, nice, system, _, _, irq, softirq = fields
    busy = (user + nice + system + irq + softirq) / os.sysconf('SC_CLK_TCK')
    own = os.times()
    return busy, (
        own.user + own.system + own.children_user + own.children_system)


class LoadMonitor:
    """CPU cores used by OTHER processes while a block runs.

    ``with LoadMonitor() as load: ...`` then ``load.others`` (cores, average
    over the block's wall time), ``load.load_before`` / ``load_after`` (1-min
    load averages, ours included). Busy time of the whole machine
    (``/proc/stat``) minus this process's and its waited-for children's.
    """

    def __enter__(self) -> 'LoadMonitor':
        self.load_before = os.getloadavg()[0]
        self._wall = time.perf_counter()
        self._busy, self._own = cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        busy, own = cpu_seconds()
        wall = max(time.perf_counter() - self._wall, 1e-9)
        self.others = max(0.0, (busy - self._busy) - (own - self._own)) / wall
        self.load_after = os.getloadavg()[0]


def describe_cpu() -> str:
    """The CPU model and its usable core count, e.g. ``AMD EPYC (2
    cores)``."""
    info = cpu_info()
    return f'{info["name"]} ({info["cores"]} cores)'
