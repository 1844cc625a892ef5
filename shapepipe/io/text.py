"""Plain text inputs (the toy pipeline's example files)."""

from shapepipe.errors import InputError


def read_flat(path: str) -> str:
    """A text file's content with newlines removed."""
    try:
        with open(path) as handle:
            return handle.read().replace('\n', '')
    except OSError as error:
        raise InputError(f'cannot read {path}: {error.strerror}', path=path) from None
