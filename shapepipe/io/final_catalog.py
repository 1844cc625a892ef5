"""The final catalogue of a tile, ``final_cat<num>.fits`` (make_cat), owned here.

A primary HDU without data and one binary table HDU ``RESULTS``, one row per
detection: the Source Extractor columns of the tile catalogue (``VIGNET``
dropped), ``TILE_ID``, ``SPREAD_MODEL``, ``SPREADERR_MODEL``,
``SPREAD_CLASS``, then the ngmix block :func:`ngmix_final_columns` (per
metacal type ``NGMIX_<name>_<type>`` in the order of
:data:`shapepipe.io.ngmix_catalog.FINAL_BLOCK`, then ``NGMIX_MCAL_FLAGS``,
``NGMIX_N_EPOCH``, ``NGMIX_MOM_FAIL``), then, with ``SAVE_PSF_DATA``,
``PSF_ELL_i``, ``PSF_FWHM_i``, ``PSF_FLAG_i`` per epoch.
"""

from collections.abc import Sequence

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.fits_errors import reading, require_columns
from shapepipe.io.ngmix_catalog import (
    FINAL_BLOCK, FINAL_OBJECT_COLUMNS, HDU_ORDER, Tables, final_name,
)

FINAL_HDU = 'RESULTS'


def ngmix_final_columns(tables: Tables | None, numbers: Sequence[int]) -> list[fits.Column]:
    """The ngmix block of the final catalogue for the objects ``numbers``.

    ``tables`` is :func:`shapepipe.io.ngmix_catalog.read_ngmix_catalog`'s
    result (or None, or lacking some types): objects without a row keep the
    defaults of :data:`FINAL_BLOCK` (flags: ``FLAG_NOT_MEASURED``).
    """
    n = len(numbers)
    tables = tables or {}
    columns = []
    objects = {name: np.full(n, default, dtype=np.int32)
               for name, _, default in FINAL_OBJECT_COLUMNS}
    for kind in HDU_ORDER:
        data = tables.get(kind)
        rows = np.full(n, -1)
        if data is not None:
            index = {int(i): k for k, i in enumerate(data['id'])}
            rows = np.array([index.get(int(num), -1) for num in numbers], dtype=int)
        found = rows >= 0
        for name, sources, form, default in FINAL_BLOCK:
            width = len(sources)
            values = np.full((n, width), default, dtype=float)
            if found.any():
                for j, source in enumerate(sources):
                    values[found, j] = np.asarray(data[source], float)[rows[found]]
            array = values[:, 0].astype(np.int32) if form == 'J' else (
                values if width > 1 else values[:, 0])
            columns.append(fits.Column(final_name(name, kind), form, array=array))
        if kind == 'NOSHEAR' and found.any():
            for name, source, _ in FINAL_OBJECT_COLUMNS:
                objects[name][found] = np.asarray(data[source])[rows[found]]
    return columns + [fits.Column(name, 'J', array=objects[name])
                      for name, _, _ in FINAL_OBJECT_COLUMNS]


def write_final_catalog(path: str, columns: Sequence[fits.Column] | fits.ColDefs) -> None:
    """Write the ``RESULTS`` table of ``columns`` (fits.Column or ColDefs) atomically."""
    hdu = fits.BinTableHDU.from_columns(fits.ColDefs(columns), name=FINAL_HDU)
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)


def read_final_catalog(path: str, columns: Sequence[str] | None = None) -> np.ndarray:
    """The ``RESULTS`` table of a final catalogue (a numpy record array).

    ``columns``: keep only these (all must exist). InputError naming the file
    when it is missing, unreadable, has no ``RESULTS`` HDU or lacks a column.
    """
    fix = 'give a final_cat*.fits made by make_cat_runner'
    with reading(path, 'final catalogue', fix), fits.open(path, memmap=False) as hdul:
        if FINAL_HDU not in hdul:
            raise InputError(f'{path}: no HDU {FINAL_HDU}; {fix}', path=path)
        data = hdul[FINAL_HDU].data
        if columns is None:
            return np.array(data)
        require_columns(path, f'HDU {FINAL_HDU}', data.columns.names, columns, fix)
        return np.array(data)[list(columns)]
