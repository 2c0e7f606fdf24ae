"""Find configs (ours by path, mmpose's by model-zoo name) and build models.

mmpose ships its model-zoo configs inside the installed package
(``mmpose/.mim/configs/<task>/<algorithm>/<dataset>/<NAME>.py``), so a
benchmark can put ``td-hm_hourglass52_8xb64-210e_mpii-256x256`` beside
``configs/hourglass52_mpii_256.py`` without a checkout of mmpose.
"""
import importlib.util
import os.path as osp
from pathlib import Path
from typing import Optional

from mmengine.config import Config
from torch import nn


def mmpose_config_dir() -> Path:
    """The ``.mim/configs`` folder of the installed mmpose.

    Raises:
        FileNotFoundError: If mmpose is not installed or has no ``.mim``
            configs (an mmpose installed from a source checkout keeps them in
            ``configs/`` beside the package instead: pass the path).
    """
    spec = importlib.util.find_spec('mmpose')
    if spec is None or spec.origin is None:
        raise FileNotFoundError('mmpose is not installed')
    folder = Path(spec.origin).parent / '.mim' / 'configs'
    if not folder.is_dir():
        raise FileNotFoundError(f'mmpose has no model-zoo configs at {folder}')
    return folder


def resolve_config(name_or_path: str) -> str:
    """A config file path from a path or an mmpose model-zoo config name.

    Args:
        name_or_path (str): An existing ``.py`` file, or a config NAME such as
            ``td-hm_res50_8xb64-210e_mpii-256x256`` (with or without ``.py``),
            searched as ``**/NAME.py`` in :func:`mmpose_config_dir`.

    Returns:
        str: Absolute path of the config file.

    Raises:
        FileNotFoundError: Neither a file nor a known name.
        ValueError: The name matches several mmpose configs.
    """
    if osp.isfile(name_or_path):
        return osp.abspath(name_or_path)
    stem = Path(name_or_path).name
    stem = stem[:-3] if stem.endswith('.py') else stem
    matches = sorted(mmpose_config_dir().rglob(f'{stem}.py'))
    if not matches:
        raise FileNotFoundError(
            f'{name_or_path!r} is neither a config file nor an mmpose '
            f'model-zoo config name (searched {mmpose_config_dir()})')
    if len(matches) > 1:
        raise ValueError(f'{name_or_path!r} matches several mmpose configs: '
                         f'{[str(m) for m in matches]}')
    return str(matches[0])


def is_plugin_config(config_file: str) -> bool:
    """Whether a config loads this plugin (``custom_imports`` names
    ``hourglass_plugin``), i.e. is one of OUR models rather than mmpose's."""
    cfg = Config.fromfile(config_file, import_custom_modules=False)
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else imports
    return any(m.split('.')[0] == 'hourglass_plugin' for m in imports)


def mmpose_metainfo(dataset_type: str) -> Optional[dict]:
    """``dict(from_file=ABSOLUTE_PATH)`` for an mmpose dataset class whose
    ``METAINFO`` names a file relative to mmpose's configs.

    mmpose resolves ``configs/_base_/datasets/mpii.py`` against the current
    directory first and only then against its ``.mim`` folder, so a project
    with its own ``configs/_base_/datasets/mpii.py`` (ours) makes mmpose's
    ``MpiiDataset`` and ``init_model`` read the wrong file when run from the
    repository root. Passing this as ``metainfo`` avoids that.

    Args:
        dataset_type (str): A ``DATASETS`` name, e.g. ``'MpiiDataset'``.

    Returns:
        dict | None: None when the class's metainfo needs no fixing (inline,
        absolute, or not found in mmpose's ``.mim``).

    Raises:
        KeyError: Unknown dataset type.
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    dataset_class = DATASETS.get(dataset_type)
    if dataset_class is None:
        raise KeyError(f'dataset type {dataset_type!r} is not registered')
    source = getattr(dataset_class, 'METAINFO', {}).get('from_file')
    if not source or osp.isabs(source):
        return None
    candidate = mmpose_config_dir().parent / source
    return dict(from_file=str(candidate)) if candidate.is_file() else None


def load_pose_model(config_file: str,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> nn.Module:
    """Build a top-down estimator in eval mode (``mmpose.apis.init_model``,
    then ``mmengine.runner.load_checkpoint``).

    ``dataset_meta`` comes from the checkpoint, else from the config's
    training dataset (with :func:`mmpose_metainfo`, so that it does not
    depend on the current directory).

    Args:
        config_file (str): Config path or mmpose model-zoo name.
        checkpoint (str, optional): Weights (``.pth``; an mmengine Runner
            checkpoint or a plain state dict). None keeps the random
            initialisation (fine for timing, meaningless for accuracy).
        device (str): ``'cpu'`` or ``'cuda[:i]'``.

    Returns:
        nn.Module: The model with ``cfg`` and ``dataset_meta`` set.

    Raises:
        FileNotFoundError: Config or checkpoint missing.
    """
    from mmengine.runner import load_checkpoint
    from mmpose.apis import init_model
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model = init_model(resolve_config(config_file), None, device=device)
    meta = None
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
        meta = ckpt.get('meta', {}).get('dataset_meta')
    if meta is None:
        dataset = model.cfg.train_dataloader.dataset
        metainfo = dataset.get('metainfo') or mmpose_metainfo(dataset.type)
        meta = parse_pose_metainfo(metainfo) if metainfo else None
    if meta is not None:
        model.dataset_meta = meta
    return model
