"""Merge ``validation_psf`` catalogues into one table with the CCD number."""

import os
import re

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path


def ccd_and_exposure(path):
    """``validation_psf-2113737-10.fits`` -> (2113737, 10)."""
    match = re.search(r'-(\d+)-(\d+)\.fits$', os.path.basename(path))
    if not match:
        raise InputError(f'{path}: no -<exposure>-<ccd> number in the name', path=path)
    return int(match.group(1)), int(match.group(2))


def exposure_number(path):
    """``validation_psf-2113737.fits`` -> 2113737."""
    match = re.search(r'-(\d+)\.fits$', os.path.basename(path))
    if not match:
        raise InputError(f'{path}: no -<exposure> number in the name', path=path)
    return int(match.group(1))


def merge_star_catalogs(paths, output):
    """Write the merged table (columns of the inputs + EXP_NB, CCD_NB); return its length."""
    tables = []
    for path in paths:
        try:
            table = Table.read(path, hdu=1)
        except (OSError, ValueError) as error:
            raise InputError(f'{path}: cannot read ({error})', path=path) from None
        if 'CCD_NB' in table.colnames:   # one file per exposure (MCCD): validation_psf-<exp>
            table['EXP_NB'] = np.full(len(table), exposure_number(path), np.int64)
        else:
            exposure, ccd = ccd_and_exposure(path)
            table['EXP_NB'] = np.full(len(table), exposure, np.int64)
            table['CCD_NB'] = np.full(len(table), ccd, np.int16)
        tables.append(table)
    merged = vstack(tables) if tables else Table()
    with atomic_path(output) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(merged)]).writeto(tmp)
    return len(merged)
