"""Where the results of a top-down run go, so that nothing is overwritten.

In the output folder, per input (an image or a video):

- image ``<name>.jpg`` -> ``<name>.png`` (drawing) and ``<name>.json``
  (poses); video ``<name>.mp4`` -> ``<name>.mp4`` (drawn frames) and
  ``<name>.json``;
- the failure list is ``failures.json``.

``<name>`` is the input's file name without its suffix, unless another input
of the run, or the failure list, would get the same name (compared
case-insensitively, as macOS and Windows file systems do): such inputs keep
their whole file name (``a.jpg`` and ``a.png`` -> ``a.jpg.png``,
``a.jpg.json``, ``a.png.png``, ``a.png.json``; ``failures.jpg`` ->
``failures.jpg.json``). The output folder may not be the input folder (a
sub-folder of it is fine: folders are not searched recursively), and no
output may be an input file.
"""
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from .errors import InferenceError

FAILURE_LIST = 'failures.json'


def output_names(
    inputs: Sequence[Path], reserved: Sequence[str] = ('failures', )
) -> Dict[Path, str]:
    """The file name (without suffix) of each input's results.

    Args:
        inputs (Sequence[Path]): the input files of one run (distinct files).
        reserved (Sequence[str]): names other outputs take (the failure
            list's).

    Returns:
        dict: input -> name; the input's stem, or its whole file name where
        stems (or a reserved name) coincide, until all names differ.

    Raises:
        InferenceError: an input without suffix is named like a reserved
            name (its whole name would take the failure list's).
    """
    names = {path: path.stem for path in inputs}
    while True:
        counts = Counter(name.casefold()
                         for name in [*names.values(), *reserved])
        shared = [
            path for path, name in names.items()
            if counts[name.casefold()] > 1 and name != path.name
        ]
        if not shared:
            break
        for path in shared:
            names[path] = path.name
    for path, name in names.items():
        if name.casefold() in {r.casefold() for r in reserved}:
            raise InferenceError(
                f'input {path}: its results would take the name of the '
                f'failure list {FAILURE_LIST}; rename the file')
    return names


def check_out_dir(out_dir: str, outputs: Sequence[Path],
                  inputs: Sequence[Path],
                  input_folder: Optional[Path]) -> None:
    """Refuse an output folder where results would land among the inputs.

    Args:
        out_dir (str): the output folder.
        outputs (Sequence[Path]): every file the run may write.
        inputs (Sequence[Path]): the input files.
        input_folder (Path, optional): the folder the inputs were listed
            from (None for a single input file). A sub-folder of it is a
            valid output folder: folders are not listed recursively.

    Raises:
        InferenceError: ``out_dir`` is ``input_folder``, or an output would
            overwrite an input file.
    """
    out = Path(out_dir).resolve()
    if input_folder is not None and out == input_folder.resolve():
        raise InferenceError(
            f'--out-dir {out_dir} is the input folder: results would be '
            'written among the images (and read as inputs by the next run); '
            'choose another folder, e.g. a sub-folder')
    sources = {path.resolve(): path for path in inputs}
    for output in outputs:
        if output.resolve() in sources:
            raise InferenceError(
                f'--out-dir {out_dir}: writing {output.name} would overwrite '
                f'the input {sources[output.resolve()]}; choose another '
                'folder')


def write_json(obj: Any, path: Path) -> None:
    """Write results (lists, dicts, floats) as indented JSON to ``path``.

    Raises:
        OSError: the file cannot be written (permissions, full disk).
    """
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)
