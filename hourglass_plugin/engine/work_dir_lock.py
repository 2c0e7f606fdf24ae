"""One training run per work dir: a lock file the second run refuses at.

Two ``tools/train.py`` runs with the same ``--work-dir`` would share one
timestamped log folder, interleave ``scalars.json`` and overwrite each
other's checkpoints. :class:`WorkDirLock` holds ``<work_dir>/train.lock``
for the whole run: an exclusive ``fcntl.flock`` on the file (the kernel
releases it when the process ends, however it ends, so a lock left by a
killed run is never in the way) whose content names the owner (pid, host,
start time, command) for the refusal message. Taking over a lock file whose
owner has died is logged.
"""
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from types import TracebackType
from typing import Optional, Type

from mmengine.logging import print_log

from .errors import WorkDirLockedError

LOCK_NAME = 'train.lock'


def _owner_text(owner: dict) -> str:
    """``pid 123 on host h, started 2026-01-01 10:00:00 UTC``."""
    started = time.strftime('%Y-%m-%d %H:%M:%S UTC',
                            time.gmtime(owner.get('started', 0)))
    return (f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, "
            f'started {started}')


class WorkDirLock:
    """Exclusive lock on a work dir for the duration of a ``with`` block.

    Args:
        work_dir (str): The run's work dir (created if missing).

    Raises:
        WorkDirLockedError: (on enter) another live process holds the lock;
            one line: ``work dir <dir> is in use by another training (pid
            <p> on host <h>, started <t>; lock <dir>/train.lock): wait for
            it to end or choose another --work-dir``.
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    def _read_owner(self, fd: int) -> dict:
        """The owner recorded in the open lock file ({} if unreadable)."""
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            return json.loads(os.read(fd, 65536).decode() or '{}')
        except ValueError:
            return {}

    def __enter__(self) -> 'WorkDirLock':
        """Take the lock and record this process as its owner."""
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = self._read_owner(fd)
                os.close(fd)
                raise WorkDirLockedError(
                    f'work dir {self.work_dir} is in use by another '
                    f'training ({_owner_text(owner)}; lock {self.path}): '
                    'wait for it to end or choose another --work-dir'
                ) from None
            try:  # the owner may have removed the file before we locked it
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        previous = self._read_owner(fd)
        if previous:
            print_log(
                f'{self.path}: taking over the lock of a run that is no '
                f'longer running ({_owner_text(previous)})',
                logger='current')
        owner = dict(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=time.time(),
            command=' '.join(sys.argv))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(owner).encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        """Release the lock and remove the file."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
