"""Catalogue reading and writing shared by the PSF interpolation modules."""

import numpy as np
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path


def read_objects(path, hdu=2):
    """Catalogue rows (FITS_LDAC HDU 2, or HDU 1 of a plain table)."""
    try:
        with fits.open(path) as hdul:
            index = hdu if len(hdul) > hdu else 1
            return Table(hdul[index].data)
    except (OSError, IndexError) as error:
        raise InputError(f'{path}: cannot read the catalogue ({error})', path=path) from None


def positions(table, position_params, path):
    """The two position columns as float arrays; InputError naming a missing one."""
    missing = [p for p in position_params if p not in table.colnames]
    if missing:
        raise InputError(f'{path} has no column {missing[0]}: fix POSITION_PARAMS', path=path)
    return (np.asarray(table[position_params[0]], float),
            np.asarray(table[position_params[1]], float))


def write_table(table, path):
    """Write an astropy table as FITS, atomically."""
    with atomic_path(path) as tmp:
        table.write(tmp, format='fits')
