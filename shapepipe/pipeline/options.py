"""Moved to :mod:`shapepipe.options`; this name is kept for older imports."""
from shapepipe.options import *  # noqa: F401,F403
