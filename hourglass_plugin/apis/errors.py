"""The error of top-down inference that one line explains."""
from ..engine.errors import InputError


class InferenceError(InputError):
    """Top-down inference cannot go on: a missing input, an output folder
    that would overwrite an input, a device this machine does not have, or
    (with ``fail_fast``) the first input that failed. The message names the
    file or option and says what to do; tools print it as ``error:
    <message>`` (exit code 1)."""
