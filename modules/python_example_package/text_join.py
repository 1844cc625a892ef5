"""Reading and joining the example text files."""

from __future__ import annotations

from typing import TYPE_CHECKING
from shapepipe.io.text import read_flat

if TYPE_CHECKING:
    import os


def join_pair(first: str | os.PathLike, second: str | os.PathLike) -> str:
    """``"<first> and <second>"`` from two files' flattened contents."""
    return f'{read_flat(first)} and {read_flat(second)}'
