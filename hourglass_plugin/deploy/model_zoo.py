"""Find configs (ours by path, mmpose's by model-zoo name or alias such as
``td-hm_hourglass52_8xb64-210e_mpii-256x256``, looked up as mmengine's
inferencers do: ``BaseInferencer._load_model_from_metafile``) and build
models."""
import os.path as osp
from types import SimpleNamespace
from typing import Optional

from mmengine.config import Config
from torch import nn


def resolve_config(name_or_path: str) -> str:
    """The absolute path of a config: an existing file as given, or the
    config of an mmpose model-zoo name or alias (``.py`` optional).

    Raises:
        FileNotFoundError: Neither a file nor a model mmpose's model index
            knows (one line naming it).
    """
    if osp.isfile(name_or_path):
        return osp.abspath(name_or_path)
    from mmengine.infer import BaseInferencer
    name = osp.basename(name_or_path)
    name = name[:-3] if name.endswith('.py') else name
    try:
        cfg, _ = BaseInferencer._load_model_from_metafile(
            SimpleNamespace(scope='mmpose'), name)
    except (ValueError, FileNotFoundError, ImportError) as err:
        raise FileNotFoundError(
            f'{name_or_path!r} is neither a config file nor a model in '
            f"mmpose's model index ({err})") from err
    return osp.abspath(cfg.filename)


def is_plugin_config(config_file: str) -> bool:
    """Whether a config loads this plugin (``custom_imports`` names
    ``hourglass_plugin``), i.e. is one of OUR models rather than mmpose's."""
    cfg = Config.fromfile(config_file, import_custom_modules=False)
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else imports
    return any(m.split('.')[0] == 'hourglass_plugin' for m in imports)


def load_pose_model(config_file: str,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> nn.Module:
    """:func:`hourglass_plugin.engine.init_pose_model` (eval mode, strict
    loading; ``checkpoint`` None keeps the random initialisation) of a
    config path or mmpose model-zoo name (:func:`resolve_config`).

    Raises:
        FileNotFoundError: Unknown config (see :func:`resolve_config`).
        CheckpointError: A checkpoint that is not one or does not fit.
    """
    from ..engine import init_pose_model
    return init_pose_model(resolve_config(config_file), checkpoint, device)
