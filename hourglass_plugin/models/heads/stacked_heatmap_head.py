"""A heatmap head with one output per hourglass stack.

Intermediate supervision (Newell et al., ECCV 2016, Sec. 3, Fig. 4): every
stack predicts a heatmap set and the same loss is applied to each; the losses
are summed. Inference uses the last stack. This subclasses mmpose's ``CPMHead``
(same layers and state-dict keys: ``multi_final_layers.<stack>.*``) and adds
per-stack loss logging and clear errors on mismatched inputs; ``predict``
(last stack, flip test with flip pairs and the 1-px heatmap shift, codec
decoding) is ``CPMHead``'s.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import CPMHead
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import (ConfigType, MultiConfig, OptConfigType,
                                 OptSampleList)
from torch import Tensor, nn


@MODELS.register_module()
class StackedHeatmapHead(CPMHead):
    """One 1x1 heatmap output per stack, a loss on every stack.

    Per stack s: ``multi_final_layers[s]``, a 1x1 conv (or the identity with
    ``final_layer=None``, for backbones that already predict heatmaps, such
    as ``NewellHourglassNet``), maps (N, in_channels, h, w) to
    (N, out_channels, h, w) heatmaps in heatmap space (h, w = the codec's
    ``heatmap_size``, input size / 4 for the hourglasses).

    Losses (:meth:`loss`): ``loss_kpt`` = sum over stacks of the loss module
    applied to each stack's heatmaps (the only key mmengine adds into the
    total); ``kpt_stack<s>`` = each stack's term, detached, for the log
    (mmengine's ``BaseModel.parse_losses`` sums every key *containing*
    ``'loss'``, hence names without it); ``acc_pose`` = mmpose's PCK accuracy
    of the last stack on the heatmap grid (threshold 0.05 of the heatmap
    size), unless ``train_cfg['compute_acc']`` is False.

    Prediction (``CPMHead.predict``): last stack only; with
    ``test_cfg['flip_test']`` the heatmaps of the flipped image are flipped
    back, left/right channels swapped by the dataset's ``flip_indices``,
    shifted 1 px right when ``shift_heatmap`` (input-space alignment of a
    flipped image) and averaged with the original; keypoints are decoded by
    the codec (``MSRAHeatmap``: argmax + quarter-pixel refinement, or DARK
    with ``unbiased=True``) in input-space pixels, 0-based.

    Args:
        in_channels (int): Channels of each stack's feature map.
        out_channels (int): Heatmap channels K (16 for MPII).
        num_stages (int): Number of stacks; the backbone must return this
            many feature maps. Defaults to 1.
        final_layer (dict, optional): Overrides of the 1x1 output conv
            (``dict(kernel_size=1)``); ``None``: no conv, the features are the
            heatmaps (requires ``in_channels == out_channels``).
        loss (dict | list[dict]): Loss config, shared by all stacks, or one per
            stack. Defaults to ``KeypointMSELoss(use_target_weight=True)``.
        decoder (dict, optional): Codec config used by ``predict``.
        init_cfg (dict, optional): Defaults to ``CPMHead``'s (N(0, 0.001)).

    Raises:
        ValueError: At construction, on ``final_layer=None`` with
            ``in_channels != out_channels`` or a loss list of the wrong
            length; in :meth:`forward` / :meth:`loss`, on the wrong number
            or width of feature maps, or targets whose size differs from the
            heatmaps.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_stages: int = 1,
                 final_layer: Optional[dict] = dict(kernel_size=1),
                 loss: MultiConfig = dict(
                     type='KeypointMSELoss', use_target_weight=True),
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        if final_layer is None and in_channels != out_channels:
            raise ValueError(
                'final_layer=None passes the backbone output through as the '
                f'heatmaps, so in_channels ({in_channels}) must equal '
                f'out_channels ({out_channels})')
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            num_stages=num_stages,
            deconv_out_channels=None,
            final_layer=final_layer,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Map each stack's features to heatmaps.

        Args:
            feats (Sequence[Tensor]): ``num_stages`` feature maps, each
                (N, in_channels, h, w).

        Returns:
            list[Tensor]: ``num_stages`` heatmaps, each (N, out_channels,
            h, w), in stack order.

        Raises:
            ValueError: If the count or channel width of ``feats`` is wrong.
        """
        if len(feats) != self.num_stages:
            raise ValueError(
                f'{type(self).__name__} was built for {self.num_stages} '
                f'stacks (num_stages) but the backbone returned '
                f'{len(feats)} feature maps')
        for s, feat in enumerate(feats):
            if feat.dim() != 4 or feat.shape[1] != self.in_channels:
                raise ValueError(
                    f'{type(self).__name__} expects (N, {self.in_channels}, '
                    f'h, w) features (in_channels); stack {s} has shape '
                    f'{tuple(feat.shape)}')
        return super().forward(feats)

    def _stack_loss_module(self, stack: int) -> nn.Module:
        """The loss module of stack ``stack`` (shared or per stack)."""
        if isinstance(self.loss_module, nn.ModuleList):
            return self.loss_module[stack]
        return self.loss_module

    def loss(self,
             feats: Sequence[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> Dict[str, Tensor]:
        """Sum of the per-stack heatmap losses, per-stack logs, accuracy.

        Args:
            feats (Sequence[Tensor]): ``num_stages`` feature maps, each
                (B, in_channels, h, w).
            batch_data_samples (list[PoseDataSample]): B samples with
                ``gt_fields.heatmaps`` (K, h, w) and
                ``gt_instance_labels.keypoint_weights`` (1, K).
            train_cfg (dict): ``compute_acc`` (bool, default True).

        Returns:
            dict[str, Tensor]: ``loss_kpt`` (scalar, with gradient),
            ``kpt_stack<s>`` for each stack s (detached scalars) and
            ``acc_pose`` (scalar, last stack).

        Raises:
            ValueError: If the targets' shape differs from the heatmaps'.
        """
        stack_heatmaps = self.forward(feats)  # S x (B, K, h, w)
        gt_heatmaps = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples])
        keypoint_weights = torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ])  # (B, K)
        if gt_heatmaps.shape != stack_heatmaps[-1].shape:
            raise ValueError(
                f'target heatmaps {tuple(gt_heatmaps.shape)} and predicted '
                f'heatmaps {tuple(stack_heatmaps[-1].shape)} differ (B, K, '
                'h, w): check the codec heatmap_size (input_size / 4) and '
                'out_channels')

        stack_losses = [
            self._stack_loss_module(s)(heatmaps, gt_heatmaps, keypoint_weights)
            for s, heatmaps in enumerate(stack_heatmaps)
        ]
        losses = dict(loss_kpt=sum(stack_losses))
        for s, stack_loss in enumerate(stack_losses):
            losses[f'kpt_stack{s}'] = stack_loss.detach()

        if train_cfg.get('compute_acc', True):
            _, avg_acc, _ = pose_pck_accuracy(
                output=to_numpy(stack_heatmaps[-1]),
                target=to_numpy(gt_heatmaps),
                mask=to_numpy(keypoint_weights) > 0)
            losses['acc_pose'] = torch.tensor(
                avg_acc, device=gt_heatmaps.device)
        return losses
