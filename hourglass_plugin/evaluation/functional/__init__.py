"""Pure-numpy evaluation functions (PCKh on MPII)."""
from .pckh import PCKH_CURVE_THRESHOLDS, mpii_pckh

__all__ = ['PCKH_CURVE_THRESHOLDS', 'mpii_pckh']
