"""Errors that end a run with one clear line instead of a traceback.

``tools/train.py`` catches :class:`TrainingFault` and prints ``error:
<message>`` (exit code 1). A fault raised inside a data-loader worker
reaches the main process as the same class with the worker's traceback
prepended to the message (torch's ``ExceptionWrapper.reraise``);
:func:`fault_message` recovers the original line.
"""


class TrainingFault(RuntimeError):
    """Base class: a fault whose message alone explains it (one line)."""


class NonFiniteLossError(TrainingFault):
    """The training loss became NaN or infinite
    (:class:`~hourglass_plugin.engine.NonFiniteLossHook`)."""


class BadSampleError(TrainingFault):
    """A training sample whose image cannot be loaded; the message names
    the annotation file, the record index and the image."""


class TooManyBadSamplesError(TrainingFault):
    """More samples were skipped than ``max_bad_fraction`` allows."""


class DatasetCheckError(TrainingFault):
    """The pre-flight check (``check_images=True``) found bad records; the
    message lists them, one per line."""


def fault_message(err: BaseException) -> str:
    """The one-line message of ``err``.

    Args:
        err (BaseException): Typically a :class:`TrainingFault`, possibly
            re-raised by torch's data loader with a worker traceback in its
            message (``Caught BadSampleError in DataLoader worker process 0.
            Original Traceback ...`` ending in ``...BadSampleError: <msg>``).

    Returns:
        str: The original message (the last line after the class name when
        the message carries a worker traceback; otherwise the message).
    """
    text = str(err).strip()
    lines = text.splitlines()
    if len(lines) > 1 and 'Traceback' in text:
        last = lines[-1]
        prefix = f'{type(err).__name__}: '
        return last.split(prefix, 1)[1] if prefix in last else last
    return text


class CheckpointError(ValueError):
    """A file given as a checkpoint is not one (truncated, empty, text, a
    foreign pickle), or its weights do not fit the model; the message names
    the file and, for a misfit, the config and the first mismatching keys."""
