"""Stacked Hourglass pose estimation on MPII as an mmpose plugin.

Importing this package registers its backbones, heads, losses, dataset, metric
and engine helpers into mmpose's / mmengine's registries (``MODELS``,
``DATASETS``, ``METRICS``, ``MODEL_WRAPPERS``). Configs load it with
``custom_imports = dict(imports=['hourglass_plugin'])``.
"""
from . import datasets, engine, evaluation, models, mpii  # noqa: F401
from .version import __version__

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models', 'mpii']
