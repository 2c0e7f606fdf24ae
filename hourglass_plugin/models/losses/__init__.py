"""Heatmap losses."""
from .foreground_mse import ForegroundWeightedMSELoss

__all__ = ['ForegroundWeightedMSELoss']
