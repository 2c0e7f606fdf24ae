"""hourglass_plugin.models: backbones, head and losses, registered in mmpose's
``MODELS`` on import."""
from .backbones import CornerHourglassNet, NewellHourglassNet
from .heads import StackedHeatmapHead
from .losses import ForegroundWeightedMSELoss

__all__ = [
    'CornerHourglassNet', 'NewellHourglassNet', 'StackedHeatmapHead',
    'ForegroundWeightedMSELoss'
]
