"""Running external executables from a job, within the job's time limit."""

import shlex
import shutil
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


def set_job_deadline(deadline):
    """Record the job's absolute deadline (``time.monotonic()`` value or None)."""
    _deadline.value = deadline


def remaining_time():
    """Seconds left before the current job's deadline, or None without one."""
    deadline = getattr(_deadline, 'value', None)
    if deadline is None:
        return None
    return deadline - time.monotonic()


def install_hint(name):
    """The command that installs an executable, for error messages."""
    package = DEBIAN_PACKAGE.get(name)
    if package:
        return f'install it with: sudo apt-get install -y {package} (or run `make install`)'
    return 'install it or set EXEC_PATH to its full path'


def find_executable(name):
    """Full path of an executable, trying its known aliases; None if absent."""
    for candidate in ALIASES.get(name, (name,)):
        path = shutil.which(candidate)
        if path:
            return path
    return None


def execute(command, cwd=None, env=None, check=True):
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
    try:
        proc = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True,
            errors='replace', timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise JobTimeoutError(
            f'{shlex.join(args)} killed: the job TIMEOUT was reached'
        ) from None
    if check and proc.returncode != 0:
        tail = ' | '.join(proc.stderr.strip().splitlines()[-3:])
        what = (f'crashed with signal {-proc.returncode}' if proc.returncode < 0
                else f'exited with status {proc.returncode}')
        raise ExecutableError(
            f'{shlex.join(args)} {what}: {tail or "no error output"}',
            returncode=proc.returncode, stderr=proc.stderr, stdout=proc.stdout,
        )
    return proc.stdout, proc.stderr
