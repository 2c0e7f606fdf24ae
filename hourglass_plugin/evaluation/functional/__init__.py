"""Pure-numpy evaluation functions (PCKh on MPII)."""
from .pckh import PCKH_CURVE_THRESHOLDS, SC_BIAS, head_sizes, mpii_pckh

__all__ = ['PCKH_CURVE_THRESHOLDS', 'SC_BIAS', 'head_sizes', 'mpii_pckh']
