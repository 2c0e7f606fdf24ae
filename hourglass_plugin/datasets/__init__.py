"""MPII dataset (registered into mmpose's ``DATASETS``) and its metainfo."""
from .mpii import MPIIPoseDataset
from .mpii_metainfo import MPII_JOINT_NAMES, MPII_METAINFO

__all__ = ['MPII_JOINT_NAMES', 'MPII_METAINFO', 'MPIIPoseDataset']
