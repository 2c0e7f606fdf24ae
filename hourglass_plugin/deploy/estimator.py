"""A top-down pose estimator whose network runs on a fast backend.

:class:`BackendPoseEstimator` keeps everything of an mmpose
``TopdownPoseEstimator`` except the network: pre-processing
(``data_preprocessor``), flip test (mmpose's ``flip_heatmaps``: mirror, swap
left/right joints, 1-px shift), decoding (``head.decode``: the model's codec)
and the mapping back to image coordinates (``add_pred_to_datasample``) are
the model's own methods; only ``crops -> last-stack heatmaps`` is delegated
to a runner (:class:`TorchHeatmapRunner`, :class:`OrtHeatmapRunner` or any
callable with that signature).

It exposes ``cfg``, ``dataset_meta`` and ``test_step`` like the wrapped model,
so mmpose's ``inference_topdown(fast_model, img, bboxes)`` and evaluation
loops use it unchanged.
"""
from typing import Callable, List

import torch
from mmengine.structures import PixelData
from mmpose.models.utils.tta import flip_heatmaps
from torch import Tensor, nn

HeatmapRunner = Callable[[Tensor], Tensor]


class BackendPoseEstimator:
    """mmpose top-down estimator with the network replaced by ``runner``.

    Args:
        pose_model (nn.Module): The mmpose ``TopdownPoseEstimator`` (from
            ``mmpose.apis.init_model``): its ``cfg``, ``dataset_meta``,
            ``test_cfg``, ``data_preprocessor`` and ``head.decode`` are used.
        runner (callable): ``(N, 3, H, W)`` float32 normalised crops ->
            ``(N, K, h, w)`` float32 last-stack heatmaps.

    Flip test (``test_cfg.flip_test``): the runner gets the crops and their
    mirror images in one batch of 2N; the mirrored heatmaps are flipped back
    with ``flip_heatmaps(flip_mode, flip_indices, shift_heatmap)`` and
    averaged, as ``CPMHead.predict`` / ``HeatmapHead.predict`` do.
    """

    def __init__(self, pose_model: nn.Module, runner: HeatmapRunner) -> None:
        self.model = pose_model
        self.runner = runner

    def __getattr__(self, name: str):
        """Everything else (``cfg``, ``dataset_meta``, ``test_cfg``,
        ``data_preprocessor``...) is the wrapped model's."""
        if name == 'model':  # not set yet (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.model, name)

    def heatmaps(self, inputs: Tensor, flip_indices: List[int]) -> Tensor:
        """(N, K, h, w) heatmaps of (N, 3, H, W) normalised crops, averaged
        with the flipped pass when ``test_cfg.flip_test`` is set
        (``flip_indices``: each joint's mirror joint)."""
        cfg = self.test_cfg
        if not cfg.get('flip_test', False):
            return self._run(inputs)
        both = self._run(torch.cat([inputs, inputs.flip(-1)]))
        plain, mirrored = both.split(inputs.shape[0])
        mirrored = flip_heatmaps(
            mirrored.clone(),
            flip_indices=flip_indices,
            flip_mode=cfg.get('flip_mode', 'heatmap'),
            shift_heatmap=cfg.get('shift_heatmap', False))
        return (plain + mirrored) * 0.5

    def _run(self, inputs: Tensor) -> Tensor:
        """``runner(inputs)``; a ValueError unless (N, K, h, w) for N."""
        heatmaps = self.runner(inputs)
        if heatmaps.dim() != 4 or heatmaps.shape[0] != inputs.shape[0]:
            raise ValueError(
                f'heatmap runner {self.runner!r} returned shape '
                f'{tuple(heatmaps.shape)} for {inputs.shape[0]} crops; '
                'expected (N, K, h, w)')
        return heatmaps

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """Like ``TopdownPoseEstimator.predict``: (N, 3, H, W) normalised
        crops and their ``PoseDataSample`` s -> the samples with
        ``pred_instances.keypoints`` (1, K, 2) in 0-based image pixels and
        ``keypoint_scores`` (1, K) (and ``pred_fields.heatmaps`` (K, h, w)
        with ``test_cfg.output_heatmaps``)."""
        heatmaps = self.heatmaps(inputs,
                                 data_samples[0].metainfo['flip_indices'])
        preds = self.model.head.decode(heatmaps)
        fields = None
        if self.test_cfg.get('output_heatmaps', False):
            fields = [PixelData(heatmaps=hm) for hm in heatmaps]
        return self.model.add_pred_to_datasample(preds, fields, data_samples)

    def test_step(self, data: dict) -> list:
        """Pre-process a ``pseudo_collate`` batch and :meth:`predict`."""
        data = self.model.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])
