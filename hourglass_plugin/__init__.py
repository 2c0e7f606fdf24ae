"""Stacked Hourglass pose estimation on MPII as an mmpose plugin.

Importing this package registers its backbones, heads, dataset and metric into
mmpose's registries (``MODELS``, ``DATASETS``, ``METRICS``).
"""
from .version import __version__

__all__ = ['__version__']
