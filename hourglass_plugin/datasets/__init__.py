"""MPII dataset, registered into mmpose's ``DATASETS``."""
from .mpii import MPIIPoseDataset

__all__ = ['MPIIPoseDataset']
