"""PCKh metric for MPII under mmengine's evaluator (``MPIIPCKhMetric``)."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from ..mpii import NUM_MPII_JOINTS, PCKH_GROUPS
from .functional import mpii_pckh
from .keypoint_origin import require_zero_based
from .prediction_files import save_pred_mat

NUM_JOINTS = NUM_MPII_JOINTS


@METRICS.register_module()
class MPIIPCKhMetric(BaseMetric):
    """PCKh@``thr`` on MPII, with mmpose 1.x ``MpiiPCKAccuracy``'s keys.

    Returns ``'Head PCK'``, ``'Shoulder PCK'``, ``'Elbow PCK'``,
    ``'Wrist PCK'``, ``'Hip PCK'``, ``'Knee PCK'``, ``'Ankle PCK'``, ``'PCK'``
    (Mean over the 14 joints without pelvis and thorax), ``'PCK@0.1'`` and
    ``'PCK AUC'`` (thresholds 0..0.5), all in percent, so ``save_best='PCK'``
    and comparisons with mmpose's metric are like for like. The numbers come
    from :func:`hourglass_plugin.evaluation.functional.mpii_pckh`, the same
    function ``tools/eval_mpii.py`` uses; see it for the conventions.

    Coordinates: ``pred_instances.keypoints`` and ``gt_instances.keypoints``
    are both 0-based image pixels (``MPIIPoseDataset`` converts MPII's 1-based
    annotations once, at load time), so they are compared without any shift.
    mmpose's ``MpiiPCKAccuracy`` instead adds 1 to the predictions, because
    its ``MpiiDataset`` keeps the ground-truth joints 1-based; both give the
    same numbers on the same people (tested). The dataset's metainfo must
    say so (``keypoint_origin='0-based'``, set by ``MPIIPoseDataset``):
    paired with mmpose's ``MpiiDataset`` the metric refuses to start instead
    of scoring every prediction 1 px off.

    Each data sample (one person, top-down) must carry
    ``pred_instances.keypoints`` (1, 16, 2), ``gt_instances.keypoints``
    (1, 16, 2), ``gt_instances.keypoints_visible`` (1, 16) and
    ``gt_instances.head_size`` (1,) pixels (``MPIIPoseDataset`` with
    ``headbox_file``), plus the metainfo ``id`` (person index in the
    annotation file) when ``pred_mat_file`` is set. Results are plain numpy
    arrays, so mmengine collects them across ranks in distributed testing.

    Args:
        thr (float): PCKh threshold in head sizes. Defaults to 0.5.
        weighted (bool): Mean weighted by visible-joint counts (HRNet,
            mmpose) if True; plain average of the 14 joints if False.
        inclusive (bool): Count ``dist <= thr`` as correct (HRNet) instead of
            ``dist < thr`` (mmpose 1.x). Defaults to False.
        pred_mat_file (str, optional): After each evaluation, write the
            predictions as HRNet's ``pred.mat`` here: key ``preds``, shape
            (N, 16, 2), 1-based pixels, rows ordered by person index, for
            ``tools/eval_mpii.py``. Requires the evaluated people to be
            exactly persons 0..N-1 of the annotation file.
        collect_device (str): ``'cpu'`` or ``'gpu'`` (mmengine).
        prefix (str, optional): Metric-name prefix (mmengine); none by
            default, like mmpose's ``MpiiPCKAccuracy``.

    Raises:
        KeypointOriginError: (``dataset_meta``, set by mmengine when a
            validation or test loop is built) a dataset whose metainfo lacks
            ``keypoint_origin='0-based'``, such as mmpose's ``MpiiDataset``.
        ValueError: (``process``) a data sample without ``head_size`` or
            with joint arrays of the wrong shape (names the sample);
            (``compute_metrics``) missing/duplicate/non-contiguous person
            indices when ``pred_mat_file`` is set, or the errors of
            ``mpii_pckh``.
    """

    def __init__(self,
                 thr: float = 0.5,
                 weighted: bool = True,
                 inclusive: bool = False,
                 pred_mat_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = thr
        self.weighted = weighted
        self.inclusive = inclusive
        self.pred_mat_file = pred_mat_file

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Keep the dataset's metainfo after checking that its keypoints
        are 0-based (:func:`~.keypoint_origin.require_zero_based`)."""
        if dataset_meta is not None:
            require_zero_based(type(self).__name__, dataset_meta)
        BaseMetric.dataset_meta.fset(self, dataset_meta)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store each person's prediction, ground truth and head size.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): ``PoseDataSample.to_dict()``
                outputs, one person each (see the class docstring).
        """
        for sample in data_samples:
            where = (f"data sample id={sample.get('id')} "
                     f"({sample.get('img_path')})")
            gt = sample['gt_instances']
            if 'head_size' not in gt:
                raise ValueError(
                    f'{where} has no gt_instances.head_size: build '
                    'MPIIPoseDataset with headbox_file= (mpii_gt_val.mat)')
            arrays = dict(
                pred=np.asarray(sample['pred_instances']['keypoints']),
                gt=np.asarray(gt['keypoints']),
                visible=np.asarray(gt['keypoints_visible']),
                head_size=np.asarray(gt['head_size'], dtype=np.float64))
            shapes = dict(
                pred=(1, NUM_JOINTS, 2),
                gt=(1, NUM_JOINTS, 2),
                visible=(1, NUM_JOINTS),
                head_size=(1, ))
            for key, shape in shapes.items():
                if arrays[key].shape != shape:
                    raise ValueError(f'{where}: {key} has shape '
                                     f'{arrays[key].shape}, expected {shape}')
            self.results.append(
                dict(
                    id=sample.get('id'),
                    pred=arrays['pred'][0].astype(np.float64),
                    gt=arrays['gt'][0].astype(np.float64),
                    visible=arrays['visible'][0] > 0,
                    head_size=arrays['head_size'][0]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """PCKh of all collected people (on the main rank).

        Args:
            results (list[dict]): The outputs of ``process`` from all ranks.

        Returns:
            dict[str, float]: ``'{group} PCK'`` for the 7 groups, ``'PCK'``,
            ``'PCK@0.1'``, ``'PCK AUC'``, in percent.
        """
        logger = MMLogger.get_current_instance()
        order = self._person_order(results) if self.pred_mat_file else None
        pred = np.stack([r['pred'] for r in results])
        stats = mpii_pckh(
            pred,
            np.stack([r['gt'] for r in results]),
            np.stack([r['visible'] for r in results]),
            np.array([r['head_size'] for r in results]),
            thr=self.thr,
            weighted=self.weighted,
            inclusive=self.inclusive)
        n_bad = int((~np.isfinite(pred).all(axis=-1)).sum())
        if n_bad:
            logger.warning(f'{n_bad} predicted joints are NaN/inf; they '
                           'count as wrong')
        metrics = {f'{group} PCK': stats[group] for group in PCKH_GROUPS}
        metrics['PCK'] = stats['Mean']
        metrics['PCK@0.1'] = stats['Mean@0.1']
        metrics['PCK AUC'] = stats['AUC']
        if self.pred_mat_file:
            # 0-based image pixels -> HRNet's 1-based pred.mat
            save_pred_mat(self.pred_mat_file, pred[order] + 1.0)
            logger.info(f'Wrote {len(pred)} predictions (1-based) to '
                        f'{self.pred_mat_file}')
        return metrics

    @staticmethod
    def _person_order(results: List[dict]) -> np.ndarray:
        """Row order that sorts results by person index ``0..N-1``.

        Raises:
            ValueError: an index is missing, duplicated or out of range.
        """
        ids = [r['id'] for r in results]
        if any(i is None for i in ids):
            raise ValueError('pred_mat_file needs the person index (metainfo '
                             "'id', packed by PackPoseInputs) of every sample")
        ids = np.asarray(ids, dtype=np.int64)
        if not np.array_equal(np.sort(ids), np.arange(len(ids))):
            raise ValueError(
                f'pred_mat_file needs persons 0..{len(ids) - 1} of the '
                f'annotation file exactly once; got {len(ids)} samples with '
                f'indices {np.unique(ids)[:10].tolist()}...')
        return np.argsort(ids)
