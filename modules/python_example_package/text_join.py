"""Reading and joining the example text files."""

from shapepipe.io.text import read_flat


def join_pair(first, second):
    """``"<first> and <second>"`` from two files' flattened contents."""
    return f'{read_flat(first)} and {read_flat(second)}'
