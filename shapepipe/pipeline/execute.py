"""Running external executables from a job, within the job's time limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time

from shapepipe.errors import ExecutableError, JobTimeoutError

# Other names under which an executable is installed (Debian renames some).
ALIASES = {
    'sex': ('sex', 'source-extractor'),
    'source-extractor': ('source-extractor', 'sex'),
    'swarp': ('swarp', 'SWarp'),
    'SWarp': ('SWarp', 'swarp'),
}

# The Debian package that provides an executable, for install hints.
DEBIAN_PACKAGE = {
    'sex': 'source-extractor',
    'source-extractor': 'source-extractor',
    'psfex': 'psfex',
    'swarp': 'swarp',
    'SWarp': 'swarp',
    'ww': 'weightwatcher',
    'mpiexec': None,
}

_deadline = threading.local()

# Executables running now, so that a stopped run (or an abandoned thread) can
# kill them: {Popen: ident of the thread that started it}.
_running = {}
_running_lock = threading.Lock()
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _child_setup():
    """In the child, before exec: die with the parent process (Linux)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _kill_group(proc):
    """Kill an executable and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def kill_running_executables(thread_ident: int | None = None) -> None:
    """Kill the executables started by ``execute`` in this process that still run
    (only those started by thread ``thread_ident`` if given)."""
    with _running_lock:
        procs = [p for p, ident in _running.items() if thread_ident in (None, ident)]
    for proc in procs:
        _kill_group(proc)


def set_job_deadline(deadline: float | None) -> None:
    """Record the job's absolute deadline (``time.monotonic()`` value or None)."""
    _deadline.value = deadline


def remaining_time() -> float | None:
    """Seconds left before the current job's deadline, or None without one."""
    deadline = getattr(_deadline, 'value', None)
    if deadline is None:
        return None
    return deadline - time.monotonic()


def install_hint(name: str) -> str:
    """The command that installs an executable, for error messages."""
    package = DEBIAN_PACKAGE.get(name)
    if package:
        return f'install it with: sudo apt-get install -y {package} (or run `make install`)'
    return 'install it or set EXEC_PATH to its full path'


def find_executable(name: str) -> str | None:
    """Full path of an executable, trying its known aliases; None if absent."""
    for candidate in ALIASES.get(name, (name,)):
        path = shutil.which(candidate)
        if path:
            return path
    return None


def execute(command: str | Sequence[str | os.PathLike], cwd: str | os.PathLike | None = None,
            env: Mapping[str, str] | None = None, check: bool = True) -> tuple[str, str]:
    """Run a command and return its ``(stdout, stderr)`` as text.

    The command honours the job's ``TIMEOUT``: it is killed when the job's
    deadline passes.

    Parameters
    ----------
    command : str or list of str
        The command; a string is split with shell rules (no shell is run).
    cwd, env : optional
        Working directory and environment for the child.
    check : bool
        Raise :class:`ExecutableError` on a non-zero exit status.

    Raises
    ------
    ExecutableError
        The executable is missing, or it failed (its stderr's last lines are
        in the message).
    JobTimeoutError
        The job's deadline passed while the command ran.
    """
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    path = find_executable(args[0])
    if path is None:
        raise ExecutableError(
            f'executable {args[0]!r} not found: {install_hint(args[0])}', executable=args[0]
        )
    args[0] = path
    timeout = remaining_time()
    if timeout is not None and timeout <= 0:
        raise JobTimeoutError('job time limit reached before running ' + args[0])
    # Its own process group, so that a time-out or an interrupted run kills the
    # executable and whatever it started; it dies with its parent too.
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        errors='replace', start_new_session=True, preexec_fn=_child_setup,
    )
    with _running_lock:
        _running[proc] = threading.get_ident()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise JobTimeoutError(
            f'{shlex.join(args)} killed: the job TIMEOUT was reached'
        ) from None
    except BaseException:   # the job was interrupted: the executable must not outlive it
        _kill_group(proc)
        with contextlib.suppress(Exception):
            proc.communicate(timeout=5)
        raise
    finally:
        with _running_lock:
            _running.pop(proc, None)
    proc = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        tail = ' | '.join(proc.stderr.strip().splitlines()[-3:])
        what = (f'crashed with signal {-proc.returncode}' if proc.returncode < 0
                else f'exited with status {proc.returncode}')
        raise ExecutableError(
            f'{shlex.join(args)} {what}: {tail or "no error output"}',
            returncode=proc.returncode, stderr=proc.stderr, stdout=proc.stdout,
        )
    return proc.stdout, proc.stderr
