"""The final catalogue of a tile: detections, classification and shapes.

Its layout (HDU ``RESULTS``, column order, the ``NGMIX_*`` block and its
defaults) is owned by :mod:`shapepipe.io.final_catalog`; this module computes
the values. ``SPREAD_CLASS``: c = SPREAD_MODEL + 2 SPREADERR_MODEL: 0 star if
|c| < SM_STAR_THRESH, 1 galaxy if c > SM_GAL_THRESH, else 2. Objects absent
from the shape catalogue keep ShapePipe's default values and the flag bit
:data:`FLAG_NOT_MEASURED`. With ``SAVE_PSF_DATA`` the per-epoch PSF columns
``PSF_ELL_i`` (HSM g1, g2), ``PSF_FWHM_i`` (pixels, 2.3548 x the HSM sigma)
and ``PSF_FLAG_i`` (HSM flags; :data:`PSF_FLAG_NO_EPOCH` when the object has
no i-th epoch with a PSF) come from the multi-epoch PSF store, epochs in the
order of their ``<exp>-<ccd>`` keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.epochs import open_object_store, read_object_entry
from shapepipe.io.final_catalog import ngmix_final_columns, write_final_catalog
from shapepipe.io.ngmix_catalog import (  # noqa: F401 (names of the final catalogue)
    DEFAULT, FINAL_SOURCES, FLAG_NOT_MEASURED, MCAL_TYPES, read_ngmix_catalog,
)

if TYPE_CHECKING:
    import os

PSF_FLAG_NO_EPOCH = 4            # PSF_FLAG_i: no i-th epoch with a PSF model
SIGMA_TO_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))


def spread_class(sm: np.ndarray, sm_err: np.ndarray, star_thresh: float,
                 gal_thresh: float) -> np.ndarray:
    """0 star, 1 galaxy, 2 neither (ShapePipe's rule, c = sm + 2 err); -1 without SM."""
    c = np.asarray(sm) + 2.0 * np.asarray(sm_err)
    result = np.full(len(c), 2, dtype=np.int16)
    result[np.abs(c) < star_thresh] = 0
    result[c > gal_thresh] = 1
    return result


def sextractor_columns(catalog_path: str | os.PathLike,
                      ) -> tuple[list[fits.Column], fits.FITS_rec]:
    """Columns of the tile catalogue's LDAC_OBJECTS, VIGNET removed."""
    try:
        with fits.open(catalog_path) as hdul:
            table = hdul[2]
            return [c for c in table.columns if c.name != 'VIGNET'], table.data
    except (OSError, IndexError) as error:
        raise InputError(f'{catalog_path}: cannot read the tile catalogue ({error})',
                         path=catalog_path) from None


def ngmix_columns(ngmix_path: str | os.PathLike, numbers: np.ndarray) -> list[fits.Column]:
    """The NGMIX_* columns for the objects ``numbers`` (defaults where missing)."""
    tables = read_ngmix_catalog(ngmix_path, FINAL_SOURCES) if ngmix_path else None
    return ngmix_final_columns(tables, numbers)


def psf_columns(store_path: str | os.PathLike, numbers: np.ndarray, n_epoch: int,
                allow_pickle: bool = False) -> list[fits.Column]:
    """``PSF_ELL_i``, ``PSF_FWHM_i``, ``PSF_FLAG_i`` for i = 1..n_epoch."""
    n = len(numbers)
    ell = np.full((n_epoch, n, 2), DEFAULT)
    fwhm = np.full((n_epoch, n), DEFAULT)
    flag = np.full((n_epoch, n), PSF_FLAG_NO_EPOCH, dtype=np.int32)
    with open_object_store(store_path, 'PSF store',
                           'rerun psfex_interp_runner (MULTI-EPOCH)', allow_pickle) as store:
        for row, number in enumerate(numbers):
            entry = read_object_entry(store, number)
            for i, key in enumerate(sorted(entry)[:n_epoch]):
                shapes = entry[key].get('SHAPES', {})
                ell[i, row] = shapes.get('E1_PSF_HSM', DEFAULT), shapes.get('E2_PSF_HSM', DEFAULT)
                sigma = shapes.get('SIGMA_PSF_HSM', DEFAULT)
                fwhm[i, row] = sigma * SIGMA_TO_FWHM if sigma > 0 else DEFAULT
                flag[i, row] = shapes.get('FLAG_PSF_HSM', 0)
    columns = []
    for i in range(n_epoch):
        columns += [fits.Column(f'PSF_ELL_{i + 1}', '2D', array=ell[i]),
                    fits.Column(f'PSF_FWHM_{i + 1}', 'D', array=fwhm[i]),
                    fits.Column(f'PSF_FLAG_{i + 1}', 'J', array=flag[i])]
    return columns


def count_epochs(catalog_path: str | os.PathLike) -> int:
    """Number of EPOCH_i HDUs of a tile catalogue."""
    with fits.open(catalog_path) as hdul:
        return sum(1 for h in hdul if h.name.startswith('EPOCH_'))


def make_final_catalog(output: str | os.PathLike, catalog_path: str | os.PathLike, tile_id: str,
                       sm_path: str | os.PathLike | None = None,
                       ngmix_path: str | os.PathLike | None = None,
                       star_thresh: float = 0.003, gal_thresh: float = 0.01,
                       psf_store: str | os.PathLike | None = None,
                       allow_pickle: bool = False) -> int:
    """Write ``final_cat{num}.fits``; return the number of rows."""
    columns, data = sextractor_columns(catalog_path)
    numbers = np.asarray(data['NUMBER'])
    n = len(numbers)
    sm, sm_err = np.full(n, -1.0), np.full(n, 1.0)
    if sm_path:
        table = fits.getdata(sm_path, 1)
        index = {int(i): k for k, i in enumerate(table['NUMBER'])}
        rows = np.array([index.get(int(num), -1) for num in numbers], dtype=int)
        ok = rows >= 0
        sm[ok] = table['SPREAD_MODEL'][rows[ok]]
        sm_err[ok] = table['SPREADERR_MODEL'][rows[ok]]
    classes = spread_class(sm, sm_err, star_thresh, gal_thresh)
    if sm_path is None:
        classes[:] = -1
    extra = [fits.Column('TILE_ID', '7A', array=np.full(n, tile_id)),
             fits.Column('SPREAD_MODEL', 'E', array=sm),
             fits.Column('SPREADERR_MODEL', 'E', array=sm_err),
             fits.Column('SPREAD_CLASS', 'I', array=classes)]
    coldefs = fits.ColDefs(columns) + fits.ColDefs(extra) + fits.ColDefs(
        ngmix_columns(ngmix_path, numbers))
    if psf_store:
        coldefs = coldefs + fits.ColDefs(psf_columns(psf_store, numbers,
                                                     max(1, count_epochs(catalog_path)),
                                                     allow_pickle))
    write_final_catalog(output, coldefs)
    return n
