"""load_image: grayscale, RGBA, 16-bit, EXIF-rotated JPEGs and arrays ->
upright BGR; 32-bit images refused with the reason.

Inputs are made from a real COCO image with Pillow."""
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hourglass_plugin.apis import InferenceError, load_image

IMAGE = '000000196141.jpg'  # 640x429, 5 people


@pytest.fixture(scope='module')
def rgb(coco_dir: Path) -> np.ndarray:
    """The real image, RGB (H, W, 3) as Pillow decodes it."""
    return np.asarray(Image.open(coco_dir / IMAGE).convert('RGB'))


def test_color_jpeg_is_bgr(coco_dir, rgb):
    img = load_image(coco_dir / IMAGE)
    assert img.dtype == np.uint8 and img.shape == rgb.shape
    np.testing.assert_array_equal(img, rgb[..., ::-1])


def test_grayscale_png_becomes_three_equal_channels(tmp_path, rgb):
    gray = np.asarray(Image.fromarray(rgb).convert('L'))
    Image.fromarray(gray).save(tmp_path / 'gray.png')
    img = load_image(tmp_path / 'gray.png')
    assert img.shape == gray.shape + (3, )
    for channel in range(3):
        np.testing.assert_array_equal(img[..., channel], gray)


def test_rgba_png_drops_alpha(tmp_path, rgb):
    alpha = np.full(rgb.shape[:2], 7, np.uint8)  # nearly transparent
    Image.fromarray(np.dstack([rgb, alpha]), 'RGBA').save(tmp_path / 'a.png')
    img = load_image(tmp_path / 'a.png')
    np.testing.assert_array_equal(img, rgb[..., ::-1])


@pytest.mark.parametrize(
    'orientation,stored,upright',
    [
        # EXIF 6: shown after rotating 90 deg clockwise
        (6, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270),
        (8, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90),
        (3, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_180),
    ])
def test_exif_rotated_jpeg_is_loaded_upright(tmp_path, rgb, orientation,
                                             stored, upright):
    # a camera stores the pixels turned and tags how to display them
    path = tmp_path / f'exif{orientation}.jpg'
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).transpose(stored).save(path, exif=exif, quality=95)
    img = load_image(path)
    # the stored pixels, decoded and turned upright by hand
    raw = Image.open(path).convert('RGB')
    assert raw.size != (rgb.shape[1], rgb.shape[0]) or orientation == 3
    np.testing.assert_array_equal(img[..., ::-1],
                                  np.asarray(raw.transpose(upright)))
    # which is the original picture (up to JPEG re-compression)
    assert img.shape == rgb.shape
    assert np.abs(img[..., ::-1].astype(int) - rgb.astype(int)).mean() < 5


def test_arrays(rgb):
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    assert load_image(bgr) is bgr
    gray = load_image(bgr[..., 0])
    assert gray.shape == bgr.shape
    np.testing.assert_array_equal(gray[..., 2], bgr[..., 0])
    np.testing.assert_array_equal(
        load_image(np.dstack([bgr, bgr[..., 0]])), bgr)


@pytest.mark.parametrize('array,match', [
    (np.zeros((10, 10, 3), np.float32), 'uint8'),
    (np.zeros((10, 10, 2), np.uint8), 'channels'),
    (np.zeros((0, 10, 3), np.uint8), 'H, W > 0'),
    (np.zeros((2, 10, 10, 3), np.uint8), 'shape'),
])
def test_bad_arrays_raise(array, match):
    with pytest.raises(ValueError, match=match):
        load_image(array)


def test_missing_and_corrupt_files_raise_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        load_image(tmp_path / 'nope.jpg')
    (tmp_path / 'broken.jpg').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='broken.jpg'):
        load_image(tmp_path / 'broken.jpg')


def test_decompression_bomb_is_a_clear_error(tmp_path):
    """A file claiming more pixels than Pillow's safety limit (~179 MP) is
    refused before decoding, with a ValueError naming the file."""
    path = tmp_path / 'bomb.png'
    Image.new('L', (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR chunk data starts at byte 16: width, height (big-endian)
    data[16:24] = (20000).to_bytes(4, 'big') + (20000).to_bytes(4, 'big')
    crc = zlib.crc32(bytes(data[12:29]))
    data[29:33] = crc.to_bytes(4, 'big')
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match='bomb.png'):
        load_image(path)


@pytest.mark.parametrize('suffix', ['.png', '.tif'])
def test_16bit_grayscale_is_scaled_to_8_bits(tmp_path, rgb, suffix):
    """A 16-bit grayscale file (Pillow mode I;16) made from the real image:
    loaded as OpenCV reads it without IMREAD_ANYDEPTH (value >> 8, the 8-bit
    gray values we started from), not clipped to white."""
    gray = np.asarray(Image.fromarray(rgb).convert('L'))
    path = tmp_path / f'gray16{suffix}'
    Image.fromarray(gray.astype(np.uint16) * 257).save(path)
    with Image.open(path) as stored:
        assert stored.mode == 'I;16'
    img = load_image(path)
    assert img.dtype == np.uint8 and img.shape == gray.shape + (3, )
    for channel in range(3):
        np.testing.assert_array_equal(img[..., channel], gray)
    np.testing.assert_array_equal(img, cv2.imread(str(path), cv2.IMREAD_COLOR))


@pytest.mark.parametrize('dtype,mode,kind',
                         [(np.int32, 'I', 'integer'),
                          (np.float32, 'F', 'floating-point')])
def test_32bit_images_are_refused_with_the_reason(tmp_path, rgb, dtype, mode,
                                                  kind):
    gray = np.asarray(Image.fromarray(rgb).convert('L')).astype(dtype)
    path = tmp_path / 'gray32.tif'
    Image.fromarray(gray).save(path)
    with pytest.raises(InferenceError) as raised:
        load_image(path)
    assert str(raised.value) == (
        f'image file {path}: 32-bit {kind} pixels (Pillow mode {mode}) have '
        'no standard 8-bit scaling; save it with 8 or 16 bits per channel')


@pytest.mark.parametrize('kind', ['1-bit', 'palette', '16-bit RGB'])
def test_other_png_colour_types_match_opencv(tmp_path, rgb, kind):
    """1-bit, palette and 16-bit-per-channel RGB PNGs made from the real
    image load as OpenCV's own decoder reads them (IMREAD_COLOR)."""
    path = tmp_path / 'image.png'
    if kind == '16-bit RGB':
        cv2.imwrite(str(path), rgb[..., ::-1].astype(np.uint16) * 257)
    else:
        mode = '1' if kind == '1-bit' else 'P'
        Image.fromarray(rgb).convert(mode).save(path)
    img = load_image(path)
    np.testing.assert_array_equal(img, cv2.imread(str(path), cv2.IMREAD_COLOR))
    if kind == '16-bit RGB':
        np.testing.assert_array_equal(img, rgb[..., ::-1])
