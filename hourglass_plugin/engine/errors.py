"""Errors that end a run with one clear line instead of a traceback.

The tools (:func:`hourglass_plugin.engine.cli.run_tool`) catch these
classes and print ``error: <message>`` (exit code 1; the traceback with
``--debug``). A fault raised inside a data-loader worker
reaches the main process as the same class with the worker's traceback
prepended to the message (torch's ``ExceptionWrapper.reraise``);
:func:`fault_message` recovers the original line.
"""
import re


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


class DatasetError(ValueError):
    """A malformed annotation or head-box file, or a record that cannot be
    used as given (e.g. a person box that cannot produce a crop); the
    message names the file and the record index."""


class ConfigError(ValueError):
    """Parts of a config that cannot work together (e.g. a dataset and a
    metric with different coordinate conventions); the message names them
    and the config."""


#: mmengine's registry re-raises a build error as ``type(e)(f'class `X` in
#: path/x.py: {e}')``; this prefix is dropped from the one-line message.
_REGISTRY_PREFIX = re.compile(r'^(class `\w+` in [\w/.]+\.py: )+')


def fault_message(err: BaseException) -> str:
    """The one-line message of ``err``.

    Args:
        err (BaseException): Typically a :class:`TrainingFault`, possibly
            re-raised by torch's data loader with a worker traceback in its
            message (``Caught BadSampleError in DataLoader worker process 0.
            Original Traceback ...`` ending in ``...BadSampleError: <msg>``).

    Returns:
        str: The original message (the last line after the class name when
        the message carries a worker traceback; otherwise the message),
        without the ``class `X` in path.py: `` prefix mmengine's registry
        adds when it re-raises a build error.
    """
    text = str(err).strip()
    lines = text.splitlines()
    if len(lines) > 1 and 'Traceback' in text:
        last = lines[-1]
        prefix = f'{type(err).__name__}: '
        text = last.split(prefix, 1)[1] if prefix in last else last
    return _REGISTRY_PREFIX.sub('', text)


class InputError(ValueError):
    """An input, option or output path the run cannot use (a missing
    input, an output folder that would overwrite an input); the message
    names it and says what to do."""


class CheckpointError(ValueError):
    """A file given as a checkpoint is not one (truncated, empty, text, a
    foreign pickle), or its weights do not fit the model; the message names
    the file and, for a misfit, the config and the first mismatching keys."""


class DeviceError(RuntimeError):
    """A requested device (``--device cuda:1``, ``--amp``, a GPU launcher)
    that this machine does not have, or a device string torch does not
    know; the message names the device and what is available."""


class LaunchError(RuntimeError):
    """A distributed launcher (``--launcher pytorch|slurm|mpi``) whose
    environment variables are missing; the message names them."""


class WorkDirLockedError(RuntimeError):
    """Another training run holds the work dir's lock; the message names
    the lock file and its owner (pid, host, start time)."""
