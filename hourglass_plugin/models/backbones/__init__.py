"""Stacked hourglass backbones: one output per stack."""
from .corner_hourglass import CornerHourglassNet
from .newell_hourglass import NewellHourglassNet

__all__ = ['CornerHourglassNet', 'NewellHourglassNet']
