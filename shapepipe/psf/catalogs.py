"""Catalogue reading and writing shared by the PSF interpolation modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Sequence


def read_objects(path: str, hdu: int = 2) -> Table:
    """Catalogue rows (FITS_LDAC HDU 2, or HDU 1 of a plain table)."""
    try:
        with fits.open(path) as hdul:
            index = hdu if len(hdul) > hdu else 1
            return Table(hdul[index].data)
    except (OSError, IndexError) as error:
        raise InputError(f'{path}: cannot read the catalogue ({error})', path=path) from None


def positions(
    table: Table, position_params: Sequence[str], path: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The two position columns as float arrays; InputError naming a missing one."""
    missing = [p for p in position_params if p not in table.colnames]
    if missing:
        raise InputError(f'{path} has no column {missing[0]}: fix POSITION_PARAMS', path=path)
    return (np.asarray(table[position_params[0]], float),
            np.asarray(table[position_params[1]], float))


def write_table(table: Table, path: str) -> None:
    """Write an astropy table as FITS, atomically."""
    with atomic_path(path) as tmp:
        table.write(tmp, format='fits')
