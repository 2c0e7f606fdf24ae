"""Heads: one heatmap set per hourglass stack."""
from .stacked_heatmap_head import StackedHeatmapHead

__all__ = ['StackedHeatmapHead']
