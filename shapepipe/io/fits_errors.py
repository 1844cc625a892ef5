"""One-line errors for reading FITS catalogues (shared by the format owners)."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from shapepipe.errors import InputError


@contextmanager
def reading(path: str, what: str, fix: str) -> Iterator[None]:
    """Turn astropy's errors while reading ``path`` into one :class:`InputError`
    line, ``<path>: cannot read the <what> (<first line of the error>); <fix>``."""
    try:
        yield
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f'{path}: cannot read the {what} ({reason}); {fix}',
                         path=path) from None


def require_columns(path: str, where: str, present: Sequence[str], required: Sequence[str],
                    fix: str) -> None:
    """InputError naming up to six ``required`` columns missing from ``present``."""
    missing = [name for name in required if name not in present]
    if missing:
        shown = ', '.join(missing[:6]) + (f' (and {len(missing) - 6} more)'
                                          if len(missing) > 6 else '')
        raise InputError(f'{path}: {where} lacks column(s) {shown}; {fix}', path=path)
