"""Multi-epoch post-processing of tile catalogues.

For every exposure that contributed to a tile (named in the tile's HISTORY
cards), find the CCD each object falls on, from the exposures' stored WCS and
the CCD data section (``CCD_SIZE``), and append an ``EPOCH_i`` HDU with
``NUMBER``, ``EXP_NAME`` and ``CCD_N`` (-1 off every CCD) plus an ``N_EPOCH``
column to the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.cfis import exposures_from_header
from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    import logging
    import os


def _ccd_geometry(wcs, ccd_size):
    """Centre and reach (deg) of a CCD's data section."""
    xmin, xmax, ymin, ymax = ccd_size
    corners = wcs.all_pix2world([xmin, xmax, xmin, xmax, (xmin + xmax) / 2],
                                [ymin, ymin, ymax, ymax, (ymin + ymax) / 2], 1)
    centre = SkyCoord(corners[0][-1], corners[1][-1], unit='deg')
    reach = SkyCoord(corners[0][:4], corners[1][:4], unit='deg').separation(centre).deg.max()
    return centre, reach


def assign_ccds(ra: np.ndarray, dec: np.ndarray, ccd_list: Iterable[Mapping[str, Any]],
                ccd_size: Sequence[float]) -> np.ndarray:
    """CCD number of each position for one exposure (-1 off every CCD's data)."""
    ccd_of = np.full(len(ra), -1, dtype=np.int32)
    if not len(ra):
        return ccd_of
    coords = SkyCoord(ra, dec, unit='deg')
    xmin, xmax, ymin, ymax = ccd_size
    for entry in ccd_list:
        wcs = entry['WCS'] if isinstance(entry['WCS'], WCS) else WCS(entry['WCS'])
        centre, reach = _ccd_geometry(wcs, ccd_size)
        # A distortion polynomial is only valid near its CCD: test nearby objects only.
        near = np.flatnonzero(coords.separation(centre).deg < reach * 1.05)
        if not len(near):
            continue
        x, y = wcs.all_world2pix(ra[near], dec[near], 1, quiet=True)
        inside = (x >= xmin - 0.5) & (x <= xmax + 0.5) & (y >= ymin - 0.5) & (y <= ymax + 0.5)
        ccd_of[near[inside & (ccd_of[near] < 0)]] = entry['ccd']
    return ccd_of


def post_process(catalog_path: str | os.PathLike, image_path: str | os.PathLike,
                 headers: Mapping[str, Sequence[Mapping[str, Any]]],
                 world_position: Sequence[str], ccd_size: Sequence[float],
                 log: logging.Logger | None = None) -> list[str]:
    """Append EPOCH_i HDUs and N_EPOCH to a tile catalogue (in place, atomically).

    Parameters
    ----------
    headers : dict
        Exposure number -> list of per-CCD dicts (``ccd``, ``WCS``), from
        ``log_exp_headers.sqlite``.

    Returns
    -------
    list of str
        The exposures used.
    """
    exposures = [name.rstrip('p') for name in exposures_from_header(image_path)]
    if not exposures:
        raise InputError(f'{image_path}: no exposure named in the HISTORY cards: cannot make '
                         f'the multi-epoch HDUs', path=image_path)
    missing = [e for e in exposures if e not in headers]
    if missing and log:
        log.warning('exposures without stored headers (their epochs are left out): %s',
                    ', '.join(missing))
    used = [e for e in exposures if e in headers]
    with fits.open(catalog_path) as hdul:
        hdus = [hdu.copy() for hdu in hdul]
    objects = hdus[2].data
    ra = np.asarray(objects[world_position[0]], float)
    dec = np.asarray(objects[world_position[1]], float)
    n_epoch = np.zeros(len(ra), dtype=np.int32)
    epoch_hdus = []
    for index, exposure in enumerate(used):
        ccd_of = assign_ccds(ra, dec, headers[exposure], ccd_size)
        n_epoch += ccd_of >= 0
        columns = [fits.Column('NUMBER', 'J', array=objects['NUMBER']),
                   fits.Column('EXP_NAME', f'{max(len(exposure), 1)}A',
                               array=np.full(len(ra), exposure)),
                   fits.Column('CCD_N', 'J', array=ccd_of)]
        epoch_hdus.append(fits.BinTableHDU.from_columns(columns, name=f'EPOCH_{index}'))
    table = hdus[2]
    cols = [c for c in table.columns if c.name != 'N_EPOCH']
    new_objects = fits.BinTableHDU.from_columns(
        cols + [fits.Column('N_EPOCH', 'J', array=n_epoch)], header=table.header,
        name='LDAC_OBJECTS')
    with atomic_path(catalog_path) as tmp:
        fits.HDUList(hdus[:2] + [new_objects] + epoch_hdus).writeto(tmp)
    return used
