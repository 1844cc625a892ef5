"""File arguments for executables that split their arguments at spaces and commas.

Source Extractor and PSFEx read ``-CATALOG_NAME a b.fits`` as two values, and
a comma separates list items (``-WEIGHT_IMAGE w1,w2``), so a path with a space
or a comma breaks the run. The executables are run in a working directory
(the module's output directory); each path is given relative to it, and a path
whose relative form still holds such a character is reached through a
symbolic link with a plain name in a hidden scratch directory.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
import re
import shutil
import tempfile

from shapepipe.io.atomic import TEMP_MARK

_SPLITS = re.compile(r'[\s,]')


class ToolPaths:
    """Paths safe to pass to an executable started in ``cwd``."""

    def __init__(self, cwd: str | os.PathLike) -> None:
        self.cwd = os.path.abspath(cwd)
        self._links = None

    def __call__(self, path: str | os.PathLike | None) -> str | None:
        """The argument naming ``path`` (relative to ``cwd`` when that is safe)."""
        if path is None:
            return None
        path = os.fspath(path)
        if not _SPLITS.search(path):
            return path
        relative = os.path.relpath(os.path.abspath(path), self.cwd)
        if not _SPLITS.search(relative):
            return relative
        if self._links is None:
            self._links = tempfile.mkdtemp(prefix='.links.', suffix=TEMP_MARK, dir=self.cwd)
        base = _SPLITS.sub('_', os.path.basename(path))
        link = os.path.join(self._links, f'{len(os.listdir(self._links))}_{base}')
        os.symlink(os.path.abspath(path), link)
        return os.path.relpath(link, self.cwd)

    def close(self) -> None:
        """Remove the links."""
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
            self._links = None


@contextlib.contextmanager
def tool_paths(cwd: str | os.PathLike) -> Iterator[ToolPaths]:
    """Yield a :class:`ToolPaths` for ``cwd``; its links are removed at the end."""
    paths = ToolPaths(cwd)
    try:
        yield paths
    finally:
        paths.close()
