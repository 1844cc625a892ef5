"""Run state on disk: which runs and module runs finished, and which jobs are done.

* ``<run_dir>/status`` is written (atomically) when the run starts or resumes,
  with ``state = running``, and again when it ends: ``finished`` (every module
  ran; jobs may have failed) or ``interrupted`` (a signal stopped it). A run
  killed outright (SIGKILL, a node crash) keeps ``running``.
* ``<run_dir>/<module>/status`` is written last, when the module run ends:
  ``complete`` (all its jobs ran; the counts say how many failed),
  ``interrupted`` or ``not_started`` (its inputs could not be found).
* ``<run_dir>/<module>/jobs.txt`` gets one line ``<number> <status>`` as each
  job finishes (``(serial)`` for a serial job); ``--resume`` skips the jobs
  whose last line says ok or skipped.
* ``<run_dir>/<module>/stale.txt`` (``RUN_DATETIME = False`` reruns) lists the
  outputs of an earlier run that the last run of the module did not rewrite
  (name, inode, modification time): they are kept, but no later module takes
  them as inputs unless they have been rewritten since (e.g. by ``--resume``).

A run directory without a ``status`` file (made by ShapePipe, or by shapepipe
before run states existed) is taken as complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
import json
import os

from shapepipe.io.atomic import write_text
from shapepipe.pipeline.job import OK, SKIPPED

STATUS_FILE = 'status'
JOB_LEDGER = 'jobs.txt'
STALE_LIST = 'stale.txt'
RUNNING, FINISHED, INTERRUPTED = 'running', 'finished', 'interrupted'
COMPLETE, NOT_STARTED = 'complete', 'not_started'


def write_status(directory: str | os.PathLike, state: str, **fields: Any) -> OSError | None:
    """Write ``<directory>/status`` atomically (one JSON object).

    Returns the OSError that prevented it (e.g. a full disk), or None. An
    unwritten status leaves the earlier one, which never says more than the truth.
    """
    try:
        write_text(os.path.join(directory, STATUS_FILE),
                   json.dumps(dict(state=state, **fields), sort_keys=True) + '\n')
    except OSError as error:
        return error
    return None


def read_status(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The status dict of a run or module directory; None without a readable one."""
    try:
        with open(os.path.join(directory, STATUS_FILE)) as handle:
            status = json.load(handle)
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) and 'state' in status else None


def module_run_complete(run_dir: str | os.PathLike, module_dir: str | os.PathLike) -> bool:
    """Whether a module run's outputs may be used by a later run.

    A module run is complete when its status says so, or when neither it nor
    its run directory has a status file (a run made before run states).
    """
    status = read_status(module_dir)
    if status is not None:
        return status['state'] == COMPLETE
    return read_status(run_dir) is None


def describe_state(run_dir: str | os.PathLike, module_dir: str | os.PathLike) -> str:
    """A few words on why a module run is not complete, for messages."""
    status = read_status(module_dir)
    if status is not None:
        return {INTERRUPTED: 'was interrupted', NOT_STARTED: 'could not start'}.get(
            status['state'], f'is {status["state"]}')
    run = read_status(run_dir) or {}
    if run.get('state') == RUNNING:
        return 'did not finish (the run was killed, or is still running)'
    return 'did not finish'


class JobLedger:
    """The ``jobs.txt`` of a module run: finished jobs, one line each, appended."""

    def __init__(self, module_dir: str | os.PathLike) -> None:
        self.path = os.path.join(module_dir, JOB_LEDGER)
        self._handle = None
        self.error = None   # the first OSError (a full disk): those jobs rerun on --resume

    def done(self) -> set[str]:
        """Labels of the jobs whose last recorded outcome is ok or skipped."""
        last = {}
        try:
            with open(self.path) as handle:
                for line in handle:
                    if not line.endswith('\n'):   # a line cut by a kill
                        break
                    label, _, status = line.rstrip('\n').rpartition(' ')
                    if label:
                        last[label] = status
        except OSError:
            return set()
        return {label for label, status in last.items() if status in (OK, SKIPPED)}

    def record(self, label: str, status: str) -> None:
        """Append a job's outcome and flush it to the file."""
        try:
            if self._handle is None:
                self._handle = open(self.path, 'a')
            self._handle.write(f'{label} {status}\n')
            self._handle.flush()
        except OSError as error:
            self.error = self.error or error

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError as error:
                self.error = self.error or error
            self._handle = None


def output_snapshot(output_dir: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """``{path relative to output_dir: (inode, mtime)}`` of the files there now."""
    snapshot = {}
    for root, _, names in os.walk(output_dir):
        for name in names:
            path = os.path.join(root, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            snapshot[os.path.relpath(path, output_dir)] = (info.st_ino, info.st_mtime_ns)
    return snapshot


def write_stale_list(module_dir: str | os.PathLike, snapshot: Mapping[str, tuple[int, int]]) -> int:
    """Record the files of ``snapshot`` that are unchanged (not rewritten) since;
    return how many."""
    output_dir = os.path.join(module_dir, 'output')
    now = output_snapshot(output_dir)
    stale = sorted(name for name, signature in snapshot.items() if now.get(name) == signature)
    path = os.path.join(module_dir, STALE_LIST)
    if stale:
        write_text(path, ''.join(f'{name}\t{now[name][0]}\t{now[name][1]}\n' for name in stale))
    elif os.path.exists(path):
        os.remove(path)
    return len(stale)   # OSError (a full disk) is the caller's to report


def stale_inputs(input_dirs: Iterable[str]) -> set[str]:
    """Real paths of the files listed in the ``stale.txt`` of the module runs
    whose output directories are among ``input_dirs``, and unchanged since."""
    stale = set()
    for directory in input_dirs:
        try:
            with open(os.path.join(os.path.dirname(os.path.normpath(directory)),
                                   STALE_LIST)) as handle:
                lines = [line.rstrip('\n').rsplit('\t', 2) for line in handle if line.strip()]
        except OSError:
            continue
        for name, inode, mtime in (line for line in lines if len(line) == 3):
            path = os.path.join(directory, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            if (str(info.st_ino), str(info.st_mtime_ns)) == (inode, mtime):  # not rewritten since
                stale.add(os.path.realpath(path))
    return stale
