"""A log file handler that reports a failing log in one line, once.

The standard handler prints "--- Logging error ---" and a traceback for every
message it cannot write (a full disk mid-run floods the console). This one
prints one line naming the log file and the reason at the first failure in the
process (a full disk fails every log at once), and drops messages it cannot
write silently afterwards.
"""

from __future__ import annotations

import logging
import sys


class OneLineFileHandler(logging.FileHandler):
    """``logging.FileHandler`` whose write errors give one line on stderr."""

    reported = False
    """Set (on the class) once a failure was reported in this process."""

    def handleError(self, record: logging.LogRecord | None) -> None:
        if OneLineFileHandler.reported:
            return
        OneLineFileHandler.reported = True
        error = sys.exc_info()[1]
        reason = getattr(error, 'strerror', None) or error
        print(f'shapepipe_run: cannot write the log {self.baseFilename}: {reason}; its later '
              f'messages are lost', file=sys.stderr)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            self.handleError(None)

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            self.handleError(None)
