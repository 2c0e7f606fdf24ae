"""Find configs (ours by path, mmpose's by model-zoo name) and build models.

mmpose ships its model zoo inside the installed package: the configs
(``mmpose/.mim/configs/<task>/<algorithm>/<dataset>/<NAME>.py``) and the
model index (``mmpose/.mim/model-index.yml``, whose ``Import`` list names
per-collection metafiles with one ``Name`` / ``Config`` entry per model, the
format OpenMMLab's ``mim`` reads). A model-zoo NAME such as
``td-hm_hourglass52_8xb64-210e_mpii-256x256`` is looked up in that index, so
a benchmark can put it beside ``configs/hourglass52_mpii_256.py`` without a
checkout of mmpose; only an mmpose without the index is searched by file
name.
"""
import functools
import importlib.util
import os.path as osp
from pathlib import Path
from typing import Dict, Optional

from mmengine.config import Config
from torch import nn


def mmpose_mim_dir() -> Path:
    """The ``.mim`` folder of the installed mmpose (configs, model index).

    Raises:
        FileNotFoundError: If mmpose is not installed or has no ``.mim``
            folder (an mmpose installed from a source checkout keeps its
            configs beside the package instead: pass the config path).
    """
    spec = importlib.util.find_spec('mmpose')
    if spec is None or spec.origin is None:
        raise FileNotFoundError('mmpose is not installed')
    folder = Path(spec.origin).parent / '.mim'
    if not (folder / 'configs').is_dir():
        raise FileNotFoundError(
            f'mmpose has no model-zoo configs at {folder / "configs"}')
    return folder


@functools.lru_cache(maxsize=None)
def mmpose_model_index(mim_dir: str) -> Dict[str, str]:
    """Model-zoo NAME -> absolute config path, from mmpose's model index.

    Args:
        mim_dir (str): mmpose's ``.mim`` folder (:func:`mmpose_mim_dir`).

    Returns:
        dict[str, str]: One entry per ``Models`` item of every metafile the
        index imports (paths in the index are relative to ``mim_dir``);
        empty when ``mim_dir`` has no ``model-index.yml``.

    Raises:
        ValueError: A metafile the index names is missing or malformed (the
            message names it).
    """
    import yaml
    root = Path(mim_dir)
    index_file = root / 'model-index.yml'
    if not index_file.is_file():
        return {}
    with open(index_file) as f:
        imports = (yaml.safe_load(f) or {}).get('Import', [])
    names = {}
    for rel in imports:
        metafile = root / rel
        try:
            with open(metafile) as f:
                models = (yaml.safe_load(f) or {}).get('Models', [])
            for model in models:
                names[model['Name']] = str(root / model['Config'])
        except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
            raise ValueError(f'{index_file}: metafile {rel} is unreadable '
                             f'or has a model without Name/Config: '
                             f'{err!r}') from err
    return names


def resolve_config(name_or_path: str) -> str:
    """A config file path from a path or an mmpose model-zoo config name.

    Args:
        name_or_path (str): An existing ``.py`` file, or a model-zoo NAME
            such as ``td-hm_res50_8xb64-210e_mpii-256x256`` (with or without
            ``.py``), looked up in mmpose's model index
            (:func:`mmpose_model_index`); only when the installed mmpose has
            no index, searched as ``**/NAME.py`` in its configs.

    Returns:
        str: Absolute path of the config file.

    Raises:
        FileNotFoundError: Neither a file nor a known name, or the index
            names a config file that does not exist.
        ValueError: Without an index, the name matches several configs.
    """
    if osp.isfile(name_or_path):
        return osp.abspath(name_or_path)
    stem = Path(name_or_path).name
    stem = stem[:-3] if stem.endswith('.py') else stem
    mim = mmpose_mim_dir()
    index = mmpose_model_index(str(mim))
    if index:
        if stem not in index:
            raise FileNotFoundError(
                f'{name_or_path!r} is neither a config file nor a model in '
                f"mmpose's model index ({mim / 'model-index.yml'})")
        if not osp.isfile(index[stem]):
            raise FileNotFoundError(f"mmpose's model index lists {stem} "
                                    f'with the missing config {index[stem]}')
        return index[stem]
    matches = sorted((mim / 'configs').rglob(f'{stem}.py'))
    if not matches:
        raise FileNotFoundError(
            f'{name_or_path!r} is neither a config file nor an mmpose '
            f'model-zoo config name (searched {mim / "configs"})')
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


def load_pose_model(config_file: str,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> nn.Module:
    """Build a top-down estimator in eval mode: ``mmpose.apis.init_model``
    on the resolved config (``dataset_meta`` from the checkpoint, else from
    the config's training dataset, as mmpose does).

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
    from mmpose.apis import init_model
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    return init_model(resolve_config(config_file), checkpoint, device=device)
