"""Merge ``validation_psf`` catalogues into one table with the CCD number."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Iterable


def ccd_and_exposure(path: str) -> tuple[int, int]:
    """``validation_psf-2113737-10.fits`` -> (2113737, 10)."""
    match = re.search(r'-(\d+)-(\d+)\.fits$', os.path.basename(path))
    if not match:
        raise InputError(f'{path}: no -<exposure>-<ccd> number in the name', path=path)
    return int(match.group(1)), int(match.group(2))


def exposure_number(path: str) -> int:
    """``validation_psf-2113737.fits`` -> 2113737."""
    match = re.search(r'-(\d+)\.fits$', os.path.basename(path))
    if not match:
        raise InputError(f'{path}: no -<exposure> number in the name', path=path)
    return int(match.group(1))


def merge_star_catalogs(paths: Iterable[str], output: str) -> int:
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


def _ellipticities(x2, y2, xy):
    """Ellipticities (epsilon and chi/2) from second moments; NaN where undefined."""
    with np.errstate(invalid='ignore', divide='ignore'):
        det = np.sqrt(x2 * y2 - xy * xy)
        eps = (x2 - y2 + 2j * xy) / (x2 + y2 + 2 * det)
        chi = (x2 - y2 + 2j * xy) / (x2 + y2) / 2
    return eps, chi


SETOOLS_COLUMNS = ('XWIN_IMAGE', 'YWIN_IMAGE', 'XWIN_WORLD', 'YWIN_WORLD', 'X2WIN_IMAGE',
                   'Y2WIN_IMAGE', 'XYWIN_IMAGE', 'FLUX_RADIUS', 'FLAGS_WIN', 'IMAFLAGS_ISO',
                   'MAG_WIN', 'SNR_WIN')


def merge_setools_catalogs(paths: Iterable[str], output: str) -> int:
    """Merge star selections (``star_selection-<exp>-<ccd>.fits``, Source Extractor
    columns) as ShapePipe's ``PSF_MODEL = setools``: X, Y, RA, DEC, EPS1, EPS2,
    CHI1, CHI2 (from the windowed second moments), SIZE (FLUX_RADIUS), FLAGS,
    FLAGS_EXT, MAG, SNR, EXP_NB, CCD_NB. Returns the number of stars."""
    tables = []
    for path in paths:
        try:
            with fits.open(path) as hdul:
                data = hdul[2 if len(hdul) > 2 else 1].data
                missing = [c for c in SETOOLS_COLUMNS if c not in data.columns.names]
                if missing:
                    raise InputError(f'{path} has no column {missing[0]}: PSF_MODEL = setools '
                                     f'merges Source Extractor star selections', path=path)
                columns = {c: np.asarray(data[c]) for c in SETOOLS_COLUMNS}
        except (OSError, ValueError) as error:
            raise InputError(f'{path}: cannot read ({error})', path=path) from None
        exposure, ccd = ccd_and_exposure(path)
        eps, chi = _ellipticities(columns['X2WIN_IMAGE'], columns['Y2WIN_IMAGE'],
                                  columns['XYWIN_IMAGE'])
        tables.append(Table({
            'X': columns['XWIN_IMAGE'], 'Y': columns['YWIN_IMAGE'],
            'RA': columns['XWIN_WORLD'], 'DEC': columns['YWIN_WORLD'],
            'EPS1': eps.real, 'EPS2': eps.imag, 'CHI1': chi.real, 'CHI2': chi.imag,
            'SIZE': columns['FLUX_RADIUS'], 'FLAGS': columns['FLAGS_WIN'],
            'FLAGS_EXT': columns['IMAFLAGS_ISO'], 'MAG': columns['MAG_WIN'],
            'SNR': columns['SNR_WIN'],
            'EXP_NB': np.full(len(data), exposure, np.int64),
            'CCD_NB': np.full(len(data), ccd, np.int16),
        }))
    merged = vstack(tables) if tables else Table()
    with atomic_path(output) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(merged)]).writeto(tmp)
    return len(merged)
