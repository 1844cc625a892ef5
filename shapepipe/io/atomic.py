"""Write outputs so that a crash or Ctrl-C never leaves a half-written file."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched::

        with atomic_path('cat.fits') as tmp:
            hdul.writeto(tmp)
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or '.'
    base = os.path.basename(path)
    # Keep the extension last: some writers (astropy, matplotlib) choose the
    # format from it.
    stem, ext = os.path.splitext(base)
    if ext == '.fz':
        stem, ext2 = os.path.splitext(stem)
        ext = ext2 + ext
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix=f'.part{ext}', dir=directory)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as handle:
            handle.write(text)
