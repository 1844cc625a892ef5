"""Merge the pieces of a catalogue measured by separate runs (e.g. ngmix_runner
over ID ranges, one module run ``_RUN_k`` per piece).

Piece ``k`` lives where piece 1 does, with the module-run directory
``<module>_run_1`` renamed ``<module>_run_k``, or, for the separate runs of
ShapePipe's cluster scripts (``run_sp_tile_ngmix_Ng1u``), ``Ng1u`` renamed
``Ng<k>u``. (ShapePipe replaced the first character '1' anywhere in the path,
which breaks on dates and tile numbers.)
"""

from __future__ import annotations

from collections.abc import Sequence
import os
import re

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

PIECE_MARKS = (re.compile(r'(_run_)1(?=[/\\])'), re.compile(r'(Ng)1(u)'))


def piece_paths(first_path: str, n_split_max: int) -> list[str]:
    """Paths of pieces 1..n_split_max derived from piece 1's path."""
    if n_split_max <= 1:
        return [first_path]
    for mark in PIECE_MARKS:
        if mark.search(first_path):
            tail = r'\g<2>' if mark.groups == 2 else ''
            return [first_path] + [mark.sub(rf'\g<1>{k}{tail}', first_path, count=1)
                                   for k in range(2, n_split_max + 1)]
    raise InputError(f'{first_path}: neither in a <module>_run_1 nor an ...Ng1u directory, so '
                     f'the other pieces cannot be found; run the pieces as <module>_RUN_1.. '
                     f'sections', path=first_path)


def merge_catalogs(paths: Sequence[str], output: str | os.PathLike, id_column: str = 'id') -> int:
    """Concatenate every table HDU of ``paths`` (same names and columns) into ``output``.

    Rows are sorted by ``id_column`` when present; an id found in two pieces
    is an error (overlapping ID ranges). Returns the number of rows.
    """
    pieces = []
    for path in paths:
        try:
            with fits.open(path) as hdul:
                pieces.append([(h.name, h.columns, h.data.copy() if h.data is not None else None)
                               for h in hdul[1:] if isinstance(h, fits.BinTableHDU)])
        except OSError as error:
            raise InputError(f'{path}: cannot read ({error})', path=path) from None
    names = [name for name, _, _ in pieces[0]]
    for path, piece in zip(paths[1:], pieces[1:]):
        if [name for name, _, _ in piece] != names:
            raise InputError(f'{path}: HDUs {[n for n, _, _ in piece]} differ from {names} of '
                             f'{paths[0]}', path=path)
    hdus = [fits.PrimaryHDU()]
    n_rows = 0
    for index, name in enumerate(names):
        columns = pieces[0][index][1]
        tables = [piece[index][2] for piece in pieces if piece[index][2] is not None]
        arrays = {c.name: np.concatenate([np.asarray(t[c.name]) for t in tables])
                  for c in columns}
        if id_column in arrays:
            ids = arrays[id_column]
            unique, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                raise InputError(f'HDU {name}: id {unique[counts > 1][0]} is in two pieces of '
                                 f'{os.path.basename(paths[0])}: the ID ranges overlap')
            order = np.argsort(ids, kind='stable')
            arrays = {key: value[order] for key, value in arrays.items()}
        hdus.append(fits.BinTableHDU.from_columns(
            [fits.Column(name=c.name, format=c.format, unit=c.unit, dim=c.dim,
                         array=arrays[c.name]) for c in columns], name=name))
        n_rows = len(next(iter(arrays.values()))) if arrays else 0
    with atomic_path(output) as tmp:
        fits.HDUList(hdus).writeto(tmp)
    return n_rows
