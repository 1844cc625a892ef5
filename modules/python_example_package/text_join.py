"""Reading and joining the example text files."""

from shapepipe.errors import InputError


def read_flat(path):
    """A text file's content with newlines removed."""
    try:
        with open(path) as handle:
            return handle.read().replace('\n', '')
    except OSError as error:
        raise InputError(f'cannot read {path}: {error.strerror}', path=path) from None


def join_pair(first, second):
    """``"<first> and <second>"`` from two files' flattened contents."""
    return f'{read_flat(first)} and {read_flat(second)}'
