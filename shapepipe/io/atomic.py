"""Write outputs so that a crash or Ctrl-C never leaves a half-written file.

Every output is first written under a temporary name in its own directory
(``.<stem>.<random>.part<ext>``: hidden, and never matched by a module's input
patterns) and renamed to its final name only when it is complete. On any
exception, including ``KeyboardInterrupt`` and ``SystemExit`` (what Ctrl-C
and the pipeline's SIGTERM handling raise), the temporary files are removed.

:func:`atomic_path` handles one file; :func:`atomic_paths` and
:func:`atomic_group` a group of files that exist together or not at all (the
catalogue and check images of one Source Extractor run, the CCD files of one
exposure); :func:`atomic_directory`
a scratch directory for an executable that chooses its own output names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
import os
import re
import shutil
import tempfile

TEMP_MARK = '.part'
"""Part of every temporary name (``.sexcat-1.k2j4x8.part.fits``)."""

_UNSAFE = re.compile(r'[^A-Za-z0-9._+-]')


def is_temporary_name(name: str | os.PathLike) -> bool:
    """Whether a file name is one of :func:`atomic_path`'s temporary names."""
    base = os.path.basename(name)
    return base.startswith('.') and TEMP_MARK in base


def _split_ext(base):
    # Keep the extension last: some writers (astropy, matplotlib) choose the
    # format from it; ``.fits.fz`` counts as one extension.
    stem, ext = os.path.splitext(base)
    if ext == '.fz':
        stem, ext2 = os.path.splitext(stem)
        ext = ext2 + ext
    return stem, ext


def temporary_name(path: str | os.PathLike) -> str:
    """A new, unused temporary path beside ``path`` (the file is not created).

    The name has no space or comma even when ``path``'s file name has, so it can
    be given to executables that split their arguments at those characters.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or '.'
    stem, ext = _split_ext(os.path.basename(path))
    stem, ext = _UNSAFE.sub('_', stem), _UNSAFE.sub('_', ext)
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix=f'{TEMP_MARK}{ext}', dir=directory)
    os.close(fd)
    os.unlink(tmp)
    return tmp


def _remove(paths):
    for tmp in paths:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched::

        with atomic_path('cat.fits') as tmp:
            hdul.writeto(tmp)
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike], require_all: bool = True,
                 ) -> Iterator[list[str]]:
    """Yield temporary paths for ``paths``; rename them all on success.

    The files of a group appear under their final names together, after the
    block succeeded, or not at all: on any exception every temporary file is
    removed and no final name is touched.

    Parameters
    ----------
    paths : sequence of path-like
        Final names (directories must exist).
    require_all : bool
        When True, a temporary file the block did not write is an error
        (:class:`FileNotFoundError` naming it) and nothing is renamed.
    """
    with atomic_group(require_all) as group:
        yield [group.temporary(path) for path in paths]


class AtomicGroup:
    """Temporary names of files that are renamed together (see :func:`atomic_group`)."""

    def __init__(self) -> None:
        self.pairs = []

    def temporary(self, path: str | os.PathLike) -> str:
        """A temporary name for final name ``path``, renamed when the group succeeds."""
        tmp = temporary_name(path)
        self.pairs.append((os.fspath(path), tmp))
        return tmp


@contextlib.contextmanager
def atomic_group(require_all: bool = True) -> Iterator[AtomicGroup]:
    """Yield an :class:`AtomicGroup` for outputs whose names are known only as
    they are written (the CCD files of a mosaic); rename them all at the end,
    or remove them all on any exception.

    Raises
    ------
    FileNotFoundError
        ``require_all`` and a temporary file was not written.
    """
    group = AtomicGroup()
    try:
        yield group
        missing = [final for final, tmp in group.pairs if not os.path.isfile(tmp)]
        if require_all and missing:
            raise FileNotFoundError(f'{missing[0]} was not written')
        for final, tmp in group.pairs:
            if os.path.isfile(tmp):
                os.replace(tmp, final)
    except BaseException:
        _remove(tmp for _, tmp in group.pairs)
        raise


@contextlib.contextmanager
def atomic_directory(directory: str | os.PathLike) -> Iterator[str]:
    """Yield a new hidden scratch directory inside ``directory``; remove it at the end.

    For executables that name their outputs themselves (PSFEx names its model
    after its input): point them at the scratch directory, then write the
    outputs to their final names with :func:`atomic_path`.
    """
    scratch = tempfile.mkdtemp(prefix='.scratch.', suffix=TEMP_MARK, dir=os.fspath(directory))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as handle:
            handle.write(text)
