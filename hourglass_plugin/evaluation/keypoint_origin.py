"""Where keypoint coordinates start, checked before a run evaluates anything.

mmpose's ``MpiiDataset`` keeps MPII's joints in 1-based MATLAB pixels (its
box centres are 0-based) and its ``MpiiPCKAccuracy`` adds 1 to every
prediction to match. ``MPIIPoseDataset`` converts joints and centres to
0-based pixels once and records it in its metainfo
(``keypoint_origin='0-based'``, :data:`hourglass_plugin.mpii.KEYPOINT_ORIGIN`);
``MPIIPCKhMetric`` compares predictions as they are. Crossing the two pairs
scores every prediction 1 px off per axis, with no error, so both crossings
are refused when the run starts: ``MPIIPCKhMetric`` checks the metainfo it is
given (:func:`require_zero_based`), and :class:`KeypointOriginCheckHook`
(in every config of this repository) refuses ``MpiiPCKAccuracy`` on a
0-based dataset.
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, Runner
from mmpose.evaluation.metrics import MpiiPCKAccuracy

from ..engine.errors import TrainingFault
from ..mpii import KEYPOINT_ORIGIN, ZERO_BASED


class KeypointOriginError(TrainingFault):
    """A dataset and a metric disagree on where keypoint coordinates start
    (one line naming both classes; the tools print it without a
    traceback)."""


def require_zero_based(metric: str, dataset_meta: dict) -> None:
    """Check that a dataset's keypoints are 0-based image pixels.

    Args:
        metric (str): The metric's class name, for the message.
        dataset_meta (dict): The dataset's metainfo (mmengine hands it to
            every metric when a validation or test loop is built).

    Raises:
        KeypointOriginError: ``dataset_meta[KEYPOINT_ORIGIN]`` is not
            ``'0-based'``, e.g. mmpose's ``MpiiDataset`` (no such key).
    """
    origin = dataset_meta.get(KEYPOINT_ORIGIN)
    if origin != ZERO_BASED:
        raise KeypointOriginError(
            f'{metric} compares 0-based keypoints, but the dataset metainfo '
            f'has {KEYPOINT_ORIGIN}={origin!r} (mmpose\'s MpiiDataset keeps '
            "MPII's 1-based joints), so every prediction would score 1 px "
            f"off: evaluate MPIIPoseDataset with {metric}, or MpiiDataset "
            "with mmpose's MpiiPCKAccuracy")


@HOOKS.register_module()
class KeypointOriginCheckHook(Hook):
    """Refuse to start a run whose validation or test loop evaluates a
    0-based dataset (``keypoint_origin='0-based'``, ``MPIIPoseDataset``)
    with mmpose's ``MpiiPCKAccuracy``, which adds 1 px to every prediction
    for ``MpiiDataset``'s 1-based joints.

    Runs in ``before_run``: mmengine has built the loops of the run
    (``train``: training and validation; ``test``; ``val``) and read no
    batch yet.

    Raises:
        KeypointOriginError: (``before_run``) such a pairing; the message
            names the loop, the dataset class and the metric class.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        """Check every built validation and test loop."""
        # the loops this run built; an unbuilt one is still its config dict
        loops = dict(val=runner._val_loop, test=runner._test_loop)
        for split, loop in loops.items():
            if not isinstance(loop, BaseLoop):
                continue
            dataset = loop.dataloader.dataset
            meta: Optional[dict] = getattr(dataset, 'metainfo', None)
            if not meta or meta.get(KEYPOINT_ORIGIN) != ZERO_BASED:
                continue
            for metric in loop.evaluator.metrics:
                if isinstance(metric, MpiiPCKAccuracy):
                    raise KeypointOriginError(
                        f'{type(metric).__name__} adds 1 px to every '
                        "prediction for MpiiDataset's 1-based joints, but "
                        f'the {split} dataset {type(dataset).__name__} has '
                        f'{KEYPOINT_ORIGIN}={ZERO_BASED!r}, so every '
                        'prediction would score 1 px off: evaluate it with '
                        'MPIIPCKhMetric (same keys), or use MpiiDataset '
                        f'with {type(metric).__name__}')
