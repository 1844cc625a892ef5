"""CFIS/UNIONS naming and tiling conventions.

Tiles are 0.5 deg wide and named ``XXX.YYY`` with ``YYY = rint((dec + 90) * 2)``
and ``XXX = rint(ra * cos(dec) * 2)`` (720 wraps to 0). Exposures are named by
their 7-digit CFHT odometer with a ``p`` suffix (``2113737p``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

TILE_SIZE_DEG = 0.5
TILE_PIXEL_SCALE = 0.1857  # arcsec / pixel
TILE_NPIX = 10000
TILE_ZERO_POINT = 30.0
EXPOSURE_PIXEL_SCALE = 0.187  # arcsec / pixel
N_CCD = 40


def tile_id_from_coord(ra: float, dec: float) -> str:
    """Tile ID ``'XXX.YYY'`` of the tile whose centre is closest to (ra, dec) [deg]."""
    yyy = int(np.rint((dec + 90.0) * 2))
    dec_c = yyy / 2.0 - 90.0
    xxx = int(np.rint(ra * np.cos(np.radians(dec_c)) * 2)) % 720
    return f'{xxx:03d}.{yyy:03d}'


def tile_coord_from_id(tile_id: str) -> tuple[float, float]:
    """Centre (ra, dec) in degrees of tile ``'XXX.YYY'`` (also ``XXX-YYY``)."""
    match = re.fullmatch(r'(\d{3})[.\-_](\d{3})', str(tile_id).strip())
    if not match:
        raise ValueError(f'{tile_id!r} is not a CFIS tile ID (expected XXX.YYY)')
    xxx, yyy = (int(g) for g in match.groups())
    dec = yyy / 2.0 - 90.0
    ra = xxx / 2.0 / np.cos(np.radians(dec))
    return ra, dec


def ccd_number(header: Mapping[str, Any], index: int) -> int:
    """A mosaic CCD's number: its CCDNUM keyword, a ``ccdNN`` EXTNAME, or ``index``
    (its 0-based order among the image HDUs; MegaCam's HDU i holds ccd i-1)."""
    if 'CCDNUM' in header:
        return int(header['CCDNUM'])
    name = str(header.get('EXTNAME', ''))
    if name.lower().startswith('ccd') and name[3:].isdigit():
        return int(name[3:])
    return index


def pipeline_id(raw_id: str) -> str:
    """Convert a raw CFIS ID to ShapePipe's: ``.`` -> ``-``, letters removed.

    ``'277.282'`` -> ``'277-282'``, ``'2113737p'`` -> ``'2113737'``.
    """
    return re.sub(r'[A-Za-z]', '', str(raw_id).replace('.', '-'))


def pipeline_ext(ext: str) -> str:
    """Extension without inner dots: ``'.fits.fz'`` -> ``'.fitsfz'``."""
    ext = ext if ext.startswith('.') else '.' + ext
    return '.' + ext[1:].replace('.', '')


def exposure_raw_name(odometer: int | str, kind: str = 'image') -> str:
    """Raw CFIS exposure file name: kind ``image`` -> ``2113737p.fits.fz``,
    ``weight`` -> ``2113737p.weight.fits.fz``, ``flag`` -> ``2113737p.flag.fits.fz``."""
    middle = '' if kind == 'image' else f'.{kind}'
    return f'{int(odometer)}p{middle}.fits.fz'


def tile_raw_name(tile_id: str, kind: str = 'image') -> str:
    """Raw CFIS tile name: ``CFIS.277.282.r.fits`` or ``CFIS.277.282.r.weight.fits.fz``."""
    if kind == 'image':
        return f'CFIS.{tile_id}.r.fits'
    return f'CFIS.{tile_id}.r.{kind}.fits.fz'


def ccd_is_flipped(ccd: int) -> bool:
    """MegaCam CCDs read out rotated by 180 degrees (< 18, and 36, 37)."""
    return ccd < 18 or ccd in (36, 37)


# CFIS HISTORY cards name each input exposure, e.g. "HISTORY  2113737p.fits ..."
_EXPOSURE_IN_HISTORY = re.compile(r'\b(\d{6,8})p\b')


def exposures_from_header(path: str | os.PathLike) -> list[str]:
    """Exposure names (``2113737p``) listed in a tile's HISTORY, in order.

    Shared by find_exposures, sextractor's multi-epoch post-processing and
    ``cfis_field_select``.
    """
    from astropy.io import fits

    from shapepipe.errors import InputError

    try:
        header = fits.getheader(path)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read the header ({error})', path=path) from None
    names = []
    for card in header.get('HISTORY', []):
        for number in _EXPOSURE_IN_HISTORY.findall(str(card)):
            if number + 'p' not in names:
                names.append(number + 'p')
    return names
