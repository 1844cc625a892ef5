"""Checks of the environment made before any job starts.

:func:`preflight` refuses, with one line each (exit status 2), what would
otherwise fail later or in every job: config sections that nothing reads, an
``OUTPUT_DIR`` that cannot be created or written, a full disk, and a run log
that cannot be appended to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import errno
import os
import shutil
import tempfile

from shapepipe.errors import InputError
from shapepipe.pipeline.module_registry import available_runners

if TYPE_CHECKING:
    from shapepipe.pipeline.run import Pipeline

PROBE_BYTES = 1 << 20
"""Size of the probe file written into OUTPUT_DIR (1 MiB)."""

MIN_FREE_BYTES = 16 << 20
"""Free space OUTPUT_DIR must have for a run to start (16 MiB: logs, run log, copies)."""


def _reason(error):
    if getattr(error, 'errno', None) == errno.ENOSPC:
        return 'the disk is full'
    if getattr(error, 'errno', None) in (errno.EROFS,):
        return 'the file system is read-only'
    return error.strerror or str(error)


def check_output_dir(output_dir: str | os.PathLike) -> None:
    """Create ``output_dir`` if needed, and write and remove a probe file in it.

    Raises
    ------
    InputError
        The directory cannot be created or written, or its disk has less than
        :data:`MIN_FREE_BYTES` free.
    """
    fix = 'set [FILE] OUTPUT_DIR to a writable directory with free space'
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as error:
        raise InputError(f'cannot create OUTPUT_DIR {output_dir!r}: {_reason(error)}; {fix}',
                         path=output_dir) from None
    probe = None
    try:
        fd, probe = tempfile.mkstemp(prefix='.shapepipe-probe-', dir=output_dir)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(b'\0' * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise InputError(f'cannot write in OUTPUT_DIR {output_dir!r}: {_reason(error)}; {fix}',
                         path=output_dir) from None
    finally:
        if probe is not None and os.path.exists(probe):
            os.unlink(probe)
    free = shutil.disk_usage(output_dir).free
    if free < MIN_FREE_BYTES:
        raise InputError(f'OUTPUT_DIR {output_dir!r} has only {free / 2**20:.1f} MiB free '
                         f'(at least {MIN_FREE_BYTES >> 20} MiB needed): free space or {fix}',
                         path=output_dir)


def check_run_log(path: str | os.PathLike) -> None:
    """The run log can be appended to (it is opened for appending, nothing is written).

    Raises
    ------
    InputError
        Naming the run log and the fix.
    """
    try:
        with open(path, 'a'):
            pass
    except OSError as error:
        raise InputError(f'cannot write the run log {path}: {_reason(error)}; make it writable '
                         f'or set [FILE] RUN_LOG_NAME to another name', path=path) from None


def preflight(pipeline: Pipeline) -> None:
    """Run every check on a :class:`shapepipe.pipeline.run.Pipeline` before its jobs."""
    pipeline.config.check_sections(pipeline.module_runs, available_runners())
    check_output_dir(pipeline.output_root)
    check_run_log(pipeline.run_log.path)
