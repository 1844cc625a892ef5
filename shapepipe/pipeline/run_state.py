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

A run directory without a ``status`` file (made by ShapePipe, or by shapepipe
before run states existed) is taken as complete.
"""

import json
import os

from shapepipe.io.atomic import write_text
from shapepipe.pipeline.job import OK, SKIPPED

STATUS_FILE = 'status'
JOB_LEDGER = 'jobs.txt'
RUNNING, FINISHED, INTERRUPTED = 'running', 'finished', 'interrupted'
COMPLETE, NOT_STARTED = 'complete', 'not_started'


def write_status(directory, state, **fields):
    """Write ``<directory>/status`` atomically (one JSON object)."""
    write_text(os.path.join(directory, STATUS_FILE),
               json.dumps(dict(state=state, **fields), sort_keys=True) + '\n')


def read_status(directory):
    """The status dict of a run or module directory; None without a readable one."""
    try:
        with open(os.path.join(directory, STATUS_FILE)) as handle:
            status = json.load(handle)
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) and 'state' in status else None


def module_run_complete(run_dir, module_dir):
    """Whether a module run's outputs may be used by a later run.

    A module run is complete when its status says so, or when neither it nor
    its run directory has a status file (a run made before run states).
    """
    status = read_status(module_dir)
    if status is not None:
        return status['state'] == COMPLETE
    return read_status(run_dir) is None


def describe_state(run_dir, module_dir):
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

    def __init__(self, module_dir):
        self.path = os.path.join(module_dir, JOB_LEDGER)
        self._handle = None

    def done(self):
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

    def record(self, label, status):
        """Append a job's outcome and flush it to the file."""
        if self._handle is None:
            self._handle = open(self.path, 'a')
        self._handle.write(f'{label} {status}\n')
        self._handle.flush()

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None
