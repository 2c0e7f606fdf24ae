"""Moved to ``tools/convert_checkpoint.py --from mmpose``; this name still
works:

    python tools/convert_mmpose_checkpoint.py SRC DST [--config CONFIG]
        [--trust-pickle]

is ``python tools/convert_checkpoint.py SRC DST --from mmpose ...``. mmpose's
checkpoints also load into our HG-52 configs without conversion.
"""
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import convert_checkpoint  # noqa: E402


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``convert_checkpoint.main`` with ``--from mmpose``.

    Raises:
        FileNotFoundError, ValueError: See ``convert_checkpoint.main``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return convert_checkpoint.main(args + ['--from', 'mmpose'])


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'convert_mmpose_checkpoint.py: error: {err}')
