"""Input validation shared by the hourglass backbones."""
from torch import Tensor


def check_image_batch(images: Tensor, in_channels: int, divisor: int,
                      owner: str) -> None:
    """Raise a clear error when a backbone cannot process ``images``.

    An hourglass adds an up-sampled low-resolution branch to a
    high-resolution one, so every down-sampling step must halve the side
    exactly: the input height and width must be multiples of the total
    down-sampling (stem x 2^levels). Otherwise PyTorch fails deep inside the
    network with an unrelated-looking size mismatch.

    Args:
        images (Tensor): The batch, shape (N, C, H, W), in input pixels.
        in_channels (int): The channel count C the backbone was built for.
        divisor (int): The backbone's total down-sampling factor.
        owner (str): Name of the backbone, used in the message.

    Raises:
        ValueError: If ``images`` is not 4-D, has the wrong channel count,
            or a side that is not a multiple of ``divisor``.
    """
    if images.dim() != 4:
        raise ValueError(f'{owner} expects a batch of images shaped '
                         f'(N, C, H, W); got shape {tuple(images.shape)}')
    channels, height, width = images.shape[1:]
    if channels != in_channels:
        raise ValueError(f'{owner} was built for {in_channels}-channel '
                         f'images; got {channels} channels (input shape '
                         f'{tuple(images.shape)})')
    if height % divisor or width % divisor:
        raise ValueError(
            f'{owner} needs the input height and width to be multiples of '
            f'its total down-sampling {divisor}; got {height}x{width} '
            f'(H x W). Use an input size such as '
            f'{-(-height // divisor) * divisor}x'
            f'{-(-width // divisor) * divisor}.')
