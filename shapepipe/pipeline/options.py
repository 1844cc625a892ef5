"""Moved to :mod:`shapepipe.options`; this name is kept for older imports."""
from shapepipe.options import *  # noqa: F401,F403
from shapepipe.options import _to_bool, expand, read_options, split_list, suggest  # noqa: F401
