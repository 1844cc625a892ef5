"""Gather the star catalogues of all CCDs of an exposure into one MCCD input file.

``train_star_selection-<exp>.fits`` / ``test_star_selection-<exp>.fits``,
HDU 1 with ShapePipe's MCCD columns (``VIGNET_LIST``,
``GLOB_POSITION_IMG_LIST``, ``MASK_LIST``, ``CCD_ID_LIST``, ``SNR_WIN_LIST``,
``RA_LIST``, ``DEC_LIST``) plus ``NUMBER_LIST``, ``LOC_POSITION_IMG_LIST``
(``XWIN_IMAGE``, ``YWIN_IMAGE``) and ``MAG_LIST``; HDU 2 ``CCD_STATUS``: one
row per input CCD with its star count and flag bits (:data:`CCD_FLAGS`).
Masks follow MCCD: 1 good pixel, 0 bad (SExtractor's -1e30 off-image pixels).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.psf.mccd.model import focal_plane_positions
from shapepipe.psf.shapes import MASKED_VALUE, hsm_shapes

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterable

#: Per-CCD flag bits of the CCD_STATUS table.
CCD_FLAGS = {
    'TOO_FEW_STARS': 1,      # fewer than MIN_N_STARS usable stars: CCD left out
    'NAN_STARS': 2,          # stars with NaN pixels or positions were dropped
    'UNREADABLE': 4,         # the catalogue could not be read: CCD left out
    'OUTLIERS': 8,           # shape outliers were dropped
}


def exposure_and_ccd(path: str, separator: str = '-') -> tuple[str, int]:
    """``star_split_ratio_80-2113737-10.fits`` -> ('2113737', 10)."""
    name = os.path.basename(path)
    match = re.search(rf'{re.escape(separator)}([^{re.escape(separator)}]+)'
                      rf'{re.escape(separator)}(\d+)\.[^.]+$', name)
    if not match:
        raise InputError(f'{path}: no {separator}<exposure>{separator}<ccd> in the file name',
                         path=path)
    return match.group(1), int(match.group(2))


def group_by_exposure(
    paths: Iterable[str], separator: str = '-',
) -> dict[str, list[tuple[int, str]]]:
    """``{exposure: [(ccd, path), ...]}`` sorted by CCD."""
    groups = defaultdict(list)
    for path in paths:
        exposure, ccd = exposure_and_ccd(path, separator)
        groups[exposure].append((ccd, path))
    return {exp: sorted(items) for exp, items in sorted(groups.items())}


def _column(data, name, n, default=np.nan):
    return (np.asarray(data[name], float) if name in data.dtype.names
            else np.full(n, default, float))


def read_ccd_stars(path: str) -> dict[str, np.ndarray]:
    """One CCD's stars: dict of arrays; InputError if unreadable or without VIGNET."""
    try:
        with fits.open(path, memmap=False) as hdul:
            data = hdul[2].data if len(hdul) > 2 else hdul[1].data
            if data is None or 'VIGNET' not in data.dtype.names:
                raise InputError(f'{path}: no VIGNET column; add VIGNET to the SExtractor '
                                 f'parameters', path=path)
            n = len(data)
            return {
                'VIGNET': np.asarray(data['VIGNET'], float).reshape(n, *data['VIGNET'].shape[1:]),
                'X': _column(data, 'XWIN_IMAGE', n), 'Y': _column(data, 'YWIN_IMAGE', n),
                'RA': _column(data, 'XWIN_WORLD', n), 'DEC': _column(data, 'YWIN_WORLD', n),
                'SNR': _column(data, 'SNR_WIN', n), 'MAG': _column(data, 'MAG_AUTO', n),
                'NUMBER': (np.asarray(data['NUMBER'], np.int64) if 'NUMBER' in data.dtype.names
                           else np.arange(1, n + 1)),
            }
    except (OSError, IndexError, TypeError, ValueError) as error:
        raise InputError(f'{path}: cannot read the star catalogue ({error})', path=path) from None


def outliers(stamps: np.ndarray, masks: np.ndarray, std_max: float) -> np.ndarray:
    """Stars whose HSM e1, e2 or R2 lies more than ``std_max`` sigma from the mean."""
    if len(stamps) < 3 or not np.isfinite(std_max):
        return np.zeros(len(stamps), bool)
    g1, g2, sigma, flag = hsm_shapes(np.where(masks > 0, stamps, MASKED_VALUE * 10))
    bad = flag != 0
    for values in (g1, g2, 2 * sigma ** 2):
        good = values[~bad]
        if good.size > 2 and good.std() > 0:
            bad |= np.abs(values - good.mean()) > std_max * good.std()
    return bad & (flag == 0)


def preprocess_exposure(
    ccd_paths: Iterable[tuple[int, str]], output_path: str, min_n_stars: int = 20,
    outlier_std_max: float = 100.0, log: logging.Logger | None = None,
) -> tuple[int, Table]:
    """Write one exposure's MCCD input file; return (stars written, CCD_STATUS table).

    A CCD with too few usable stars, or an unreadable catalogue, is left out
    and flagged; stars with NaN pixels or positions are dropped and flagged.
    The file is written only when at least one CCD is usable; otherwise
    InputError.
    """
    status = Table(names=('CCD', 'N_INPUT', 'N_USED', 'FLAG'), dtype=(np.int16, np.int32,
                                                                      np.int32, np.int32))
    parts = defaultdict(list)
    for ccd, path in ccd_paths:
        flag = 0
        try:
            stars = read_ccd_stars(path)
        except InputError as error:
            if log:
                log.warning('%s: CCD %d left out', error, ccd)
            status.add_row((ccd, 0, 0, CCD_FLAGS['UNREADABLE']))
            continue
        vignets = stars['VIGNET']
        n_input = len(vignets)
        masks = (vignets > MASKED_VALUE).astype(float)
        finite = np.isfinite(vignets).all(axis=(1, 2))
        finite &= np.isfinite(stars['X']) & np.isfinite(stars['Y'])
        if not finite.all():
            flag |= CCD_FLAGS['NAN_STARS']
            if log:
                log.warning('%s: %d stars with NaN pixels or positions dropped', path,
                            (~finite).sum())
        keep = finite
        vignets = np.where(masks > 0, np.nan_to_num(vignets), 0.0)
        outlier = outliers(vignets[keep], masks[keep], outlier_std_max)
        if outlier.any():
            flag |= CCD_FLAGS['OUTLIERS']
            keep = keep.copy()
            keep[np.flatnonzero(keep)[outlier]] = False
        n_used = int(keep.sum())
        if n_used < min_n_stars:
            flag |= CCD_FLAGS['TOO_FEW_STARS']
            if log:
                log.warning('%s: %d usable stars < MIN_N_STARS = %d: CCD %d left out of the '
                            'MCCD model', path, n_used, min_n_stars, ccd)
            status.add_row((ccd, n_input, 0, flag))
            continue
        status.add_row((ccd, n_input, n_used, flag))
        parts['VIGNET_LIST'].append(vignets[keep])
        parts['MASK_LIST'].append(masks[keep])
        parts['GLOB_POSITION_IMG_LIST'].append(
            focal_plane_positions(ccd, stars['X'][keep], stars['Y'][keep]))
        parts['LOC_POSITION_IMG_LIST'].append(np.stack([stars['X'][keep], stars['Y'][keep]], 1))
        parts['CCD_ID_LIST'].append(np.full(n_used, ccd, np.int64))
        for name, key in (('SNR_WIN_LIST', 'SNR'), ('RA_LIST', 'RA'), ('DEC_LIST', 'DEC'),
                          ('MAG_LIST', 'MAG'), ('NUMBER_LIST', 'NUMBER')):
            parts[name].append(stars[key][keep])
    if not parts:
        raise InputError(f'{output_path}: no CCD of the exposure has {min_n_stars} usable '
                         f'stars (MIN_N_STARS); no MCCD input written', path=output_path)
    table = Table({name: np.concatenate(arrays) for name, arrays in parts.items()})
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table), fits.table_to_hdu(status)])
    hdus[2].name = 'CCD_STATUS'
    with atomic_path(output_path) as tmp:
        hdus.writeto(tmp)
    return len(table), status


def read_star_file(path: str) -> Table:
    """The table of a ``*_star_selection`` file; InputError if unreadable."""
    try:
        return Table.read(path, hdu=1)
    except (OSError, ValueError, IndexError) as error:
        raise InputError(f'{path}: cannot read the MCCD star file ({error}); rerun '
                         f'mccd_preprocessing_runner', path=path) from None
