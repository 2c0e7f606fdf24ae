"""Ground truth, prediction and heatmaps of a training batch, as images.

The Paddle reproductions of the stacked hourglass save, during training,
images of the ground-truth and predicted keypoints and heatmaps; this hook
does the same through mmpose's ``PoseLocalVisualizer``, so the images go to
every visualization backend (``vis_data/vis_image/`` locally, TensorBoard
with ``--tensorboard``).
"""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from mmengine.structures import InstanceData, PixelData
from mmpose.structures import PoseDataSample


@HOOKS.register_module()
class TrainBatchVisualizationHook(Hook):
    """Every ``interval`` training iterations, draw the batch's first sample.

    The picture (input crop, ``input_size`` pixels) shows, left, the
    ground-truth keypoints decoded from the target heatmaps (exactly what is
    supervised, input space) over those targets and, right, the keypoints
    decoded from the last stack's predicted heatmaps over those heatmaps.
    The prediction runs in eval mode under ``torch.no_grad`` so BN running
    statistics are not touched.
    Only rank 0 draws. Enable with ``tools/train.py --vis-train-batch N``.

    Args:
        enable (bool): Draw at all. Defaults to False.
        interval (int): Iterations between pictures. Defaults to 500.
        kpt_thr (float): Score threshold for drawn predicted keypoints.

    Raises:
        ValueError: On ``interval < 1``.
    """

    priority = 'LOW'

    def __init__(self,
                 enable: bool = False,
                 interval: int = 500,
                 kpt_thr: float = 0.0) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.enable = enable
        self.interval = interval
        self.kpt_thr = kpt_thr

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Draw the first sample of ``data_batch`` every ``interval`` iters."""
        if (not self.enable or data_batch is None or runner.rank != 0
                or not self.every_n_train_iters(runner, self.interval)):
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        sample = self._draw_sample(model, data_batch)
        image = data_batch['inputs'][0].permute(1, 2, 0).cpu().numpy()
        visualizer = runner.visualizer
        visualizer.set_dataset_meta(runner.train_dataloader.dataset.metainfo)
        visualizer.add_datasample(
            'train_batch',
            image[..., ::-1].copy(),
            sample,
            draw_gt=True,
            draw_pred=True,
            draw_heatmap=True,
            kpt_thr=self.kpt_thr,
            step=runner.iter + 1)

    @staticmethod
    def _draw_sample(model: torch.nn.Module,
                     data_batch: dict) -> PoseDataSample:
        """Predict the first sample; return GT and prediction (input
        space)."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(
                    inputs=data_batch['inputs'][:1],
                    data_samples=data_batch['data_samples'][:1]))
            heatmaps = model(data['inputs'], None, mode='tensor')
        model.train(was_training)
        if isinstance(heatmaps, (list, tuple)):
            heatmaps = heatmaps[-1]  # last stack: (1, K, h, w)
        pred_heatmaps = heatmaps[0].cpu()
        keypoints, scores = model.head.decoder.decode(pred_heatmaps.numpy())
        gt = data_batch['data_samples'][0]
        gt_keypoints, _ = model.head.decoder.decode(
            gt.gt_fields.heatmaps.cpu().numpy())
        sample = PoseDataSample()
        sample.gt_instances = InstanceData(
            keypoints=gt_keypoints,
            keypoints_visible=gt.gt_instances.keypoints_visible)
        sample.gt_fields = PixelData(heatmaps=gt.gt_fields.heatmaps)
        sample.pred_instances = InstanceData(
            keypoints=keypoints, keypoint_scores=scores)
        sample.pred_fields = PixelData(heatmaps=pred_heatmaps)
        return sample
