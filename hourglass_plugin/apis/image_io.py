"""Image loading for top-down inference: any file or array -> 3-channel BGR.

The pose and detector pipelines (mmpose ``TopdownAffine``, mmdet ``Resize``)
expect what ``mmcv.imread`` returns for an ordinary colour JPEG: a ``uint8``
array of shape (H, W, 3) in BGR order. Real inputs are often not that:
grayscale files, PNGs with an alpha channel, 16-bit PNGs and TIFFs, and phone
JPEGs whose pixels are stored sideways with an EXIF ``Orientation`` tag. This
module normalises them (or refuses them, saying why).
"""
from pathlib import Path
from typing import Union

import mmcv
import numpy as np
from PIL import Image

from .errors import InferenceError

ImageInput = Union[str, Path, np.ndarray]


def load_image(img: ImageInput) -> np.ndarray:
    """Load an image as an upright 3-channel BGR ``uint8`` array.

    Files are decoded by ``mmcv.imread(path, flag='color',
    channel_order='bgr', backend='pillow')``: Pillow applies the EXIF
    orientation tag (``ImageOps.exif_transpose``), expands grayscale to three
    channels and drops the alpha channel of RGBA/LA images. 16-bit images
    (Pillow modes ``I;16*``: 16-bit grayscale PNG, TIFF) are decoded by
    OpenCV instead (``backend='cv2'``), which scales them to 8 bits as
    OpenCV does (``value >> 8``, what a ``cv2.imread(path,
    IMREAD_ANYDEPTH)`` user gets after dividing by 256); Pillow would clip
    them at 255 (an all-white image).

    Arrays are taken to be in OpenCV's convention already (BGR, or BGRA as
    ``cv2.imread(..., IMREAD_UNCHANGED)`` returns): (H, W) grayscale becomes
    (H, W, 3), (H, W, 4) loses its alpha channel, (H, W, 3) is returned as is.

    Args:
        img (str | Path | np.ndarray): an image file, or an array of shape
            (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), dtype ``uint8``.

    Returns:
        np.ndarray: (H, W, 3) ``uint8`` BGR image, H and W in pixels of the
        upright image.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded as an image, or the array has
            an unsupported shape or dtype. The message names the file.
        InferenceError: (a ValueError) a 32-bit integer or floating-point
            image (Pillow mode ``I`` or ``F``), whose values have no
            standard 8-bit scaling.
    """
    if isinstance(img, np.ndarray):
        return _as_bgr(img, 'image array')
    path = str(img)
    if not Path(path).is_file():
        raise FileNotFoundError(f'image file not found: {path}')
    try:
        with Image.open(path) as image:  # reads the header only
            mode = image.mode
    except Exception as err:  # Pillow raises several unrelated types
        raise ValueError(f'cannot decode image file {path}: {err}') from err
    if mode in ('I', 'F'):
        kind = 'integer' if mode == 'I' else 'floating-point'
        raise InferenceError(
            f'image file {path}: 32-bit {kind} pixels (Pillow mode {mode}) '
            'have no standard 8-bit scaling; save it with 8 or 16 bits per '
            'channel')
    try:
        array = mmcv.imread(
            path,
            flag='color',
            channel_order='bgr',
            backend='cv2' if mode.startswith('I;16') else 'pillow')
    except Exception as err:
        raise ValueError(f'cannot decode image file {path}: {err}') from err
    if array is None:
        raise ValueError(f'cannot decode image file {path}')
    return _as_bgr(array, path)


def _as_bgr(array: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) BGR."""
    if array.dtype != np.uint8:
        raise ValueError(f'{name}: expected a uint8 image, got dtype '
                         f'{array.dtype}')
    if array.ndim not in (2, 3) or 0 in array.shape[:2]:
        raise ValueError(f'{name}: expected an image of shape (H, W) or '
                         f'(H, W, C) with H, W > 0, got {array.shape}')
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return mmcv.gray2bgr(array)
    if array.shape[2] == 4:
        return np.ascontiguousarray(array[..., :3])
    if array.shape[2] == 3:
        return array
    raise ValueError(f'{name}: expected 1, 3 or 4 channels, got '
                     f'{array.shape}')
