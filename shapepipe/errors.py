"""The one exception hierarchy of shapepipe.

Every error the pipeline or a module raises on purpose derives from
:class:`ShapePipeError`. Messages are one line that says what was wrong, where
(file, section, key) and how to fix it. All classes pickle with their context,
so errors raised in a worker process reach the driver intact.
"""

from __future__ import annotations

from typing import Any


class ShapePipeError(Exception):
    """Base class of every error raised on purpose by shapepipe.

    Parameters
    ----------
    message : str
        One line: what went wrong, where, and the fix.
    **context
        Optional facts (``path=``, ``section=``, ``key=`` ...) kept as
        attributes for programs that handle the error.
    """

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context
        for name, value in context.items():
            setattr(self, name, value)

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.context))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls, message, context):
    return cls(message, **context)


class ConfigError(ShapePipeError, ValueError):
    """A configuration file is missing, unreadable or has a wrong key or value."""


class InputError(ShapePipeError, ValueError):
    """An input file or directory is missing, corrupt or of the wrong form."""


class DependencyError(ShapePipeError, ImportError):
    """A Python package that a module needs is not installed."""


class ExecutableError(ShapePipeError, RuntimeError):
    """An external executable is missing, failed or crashed."""


class JobTimeoutError(ShapePipeError, TimeoutError):
    """A job ran longer than the ``[JOB] TIMEOUT`` allows."""


class JobSkipped(ShapePipeError):
    """A job found no work to do: it is counted as skipped, not failed."""


class ModuleError(ShapePipeError, RuntimeError):
    """A module's algorithm failed on its input (e.g. too few stars on a CCD)."""


class ExecutorError(ShapePipeError, RuntimeError):
    """The machinery that runs jobs failed (e.g. an MPI rank died): the run stops."""
