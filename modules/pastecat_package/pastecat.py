"""Paste catalogues: one output file with one table HDU per input catalogue,
every column kept (ShapePipe's pastecat)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Sequence


def read_table_hdu(path: str, hdu_no: int) -> fits.BinTableHDU:
    """The table HDU ``hdu_no`` of a catalogue (a copy, file closed)."""
    try:
        with fits.open(path) as hdul:
            if hdu_no >= len(hdul) or not isinstance(hdul[hdu_no], fits.BinTableHDU):
                raise InputError(f'{path}: HDU {hdu_no} is not a table ({len(hdul)} HDUs): '
                                 f'fix HDU', path=path)
            hdu = hdul[hdu_no]
            return fits.BinTableHDU(data=hdu.data.copy(), header=hdu.header.copy())
    except OSError as error:
        raise InputError(f'{path}: cannot read the catalogue ({error})', path=path) from None


def paste_catalogs(
    paths: Sequence[str], output: str, hdu_numbers: Sequence[int] | None = None,
    ext_names: Sequence[str] | None = None, check_column: str | None = None,
) -> list[int]:
    """Write ``output``: a primary HDU and the table of each input, in order.

    Parameters
    ----------
    paths : list of str
        Input catalogues.
    output : str
        Output FITS file.
    hdu_numbers : list of int, optional
        HDU of each input (default 2, the objects of a FITS_LDAC catalogue).
    ext_names : list of str, optional
        EXTNAME of each output HDU (default: the input file name, as ShapePipe).
    check_column : str, optional
        A column that must hold the same values in every input (e.g. NUMBER):
        the inputs describe the same objects in the same order.

    Returns
    -------
    list of int
        Rows of each pasted table.
    """
    hdu_numbers = hdu_numbers or [2] * len(paths)
    ext_names = ext_names or [os.path.basename(p) for p in paths]
    if not len(hdu_numbers) == len(ext_names) == len(paths):
        raise InputError(f'{len(paths)} inputs but {len(hdu_numbers)} HDU numbers and '
                         f'{len(ext_names)} extension names')
    tables = []
    reference = None
    for path, hdu_no, name in zip(paths, hdu_numbers, ext_names):
        hdu = read_table_hdu(path, hdu_no)
        if check_column:
            if check_column not in hdu.columns.names:
                raise InputError(f'{path}: no column {check_column} (CHECK_COL_NAME)', path=path)
            values = np.asarray(hdu.data[check_column])
            if reference is not None and not np.array_equal(values, reference[1]):
                raise InputError(f'{path}: column {check_column} differs from {reference[0]}: '
                                 f'the catalogues do not list the same objects', path=path)
            reference = (path, values)
        hdu.name = name
        tables.append(hdu)
    with atomic_path(output) as tmp:
        fits.HDUList([fits.PrimaryHDU()] + tables).writeto(tmp)
    return [len(t.data) for t in tables]
