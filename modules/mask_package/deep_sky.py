"""Discs around deep-sky objects (Messier, NGC).

A catalogue is a table with columns ``ra``, ``dec`` (default unit deg) and
``size_X``, ``size_Y`` (default unit arcmin), either a FITS binary table (the
layout of ShapePipe's ``Messier_catalog_updated.npy`` and ``ngc_cat.npy``,
which are FITS files despite their extension) or an ECSV text table (the
catalogues shipped in ``example/GOLD/mask_default/``). Units given in the file
(``TUNITn`` or ECSV units) are honoured. An object is masked by a disc of
radius ``max(size_X, size_Y) * (1 + SIZE_PLUS)``, as ShapePipe does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from shapepipe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from astropy.wcs import WCS

#: Objects farther than this from the image centre are not projected (a
#: gnomonic projection maps the far hemisphere onto the image plane).
_MAX_SEPARATION_DEG = 60.0


def _column(table, name, default_unit, path):
    for col in table.colnames:
        if col.lower() == name.lower():
            column = table[col]
            unit = column.unit if column.unit is not None else default_unit
            try:
                return u.Quantity(np.asarray(column, dtype=float), unit)
            except (TypeError, ValueError):
                break
    raise ConfigError(f'{path}: deep-sky catalogue needs a numeric column {name} '
                      f'(columns: {", ".join(table.colnames)})', path=path)


def read_dso_catalog(path: str | os.PathLike) -> dict[str, Any]:
    """Read a deep-sky object catalogue.

    Returns
    -------
    dict
        ``name`` (list of str), ``coord`` (SkyCoord), ``radius`` (Quantity,
        deg): ``max(size_X, size_Y)``.

    Raises
    ------
    ConfigError
        Unreadable file or missing columns.
    """
    try:
        with open(path, 'rb') as handle:
            is_fits = handle.read(6) == b'SIMPLE'
        table = Table.read(path, format='fits' if is_fits else 'ascii.ecsv')
    except (OSError, ValueError) as error:
        raise ConfigError(f'{path}: cannot read deep-sky catalogue ({error}); expected a '
                          f'FITS table or ECSV with ra, dec, size_X, size_Y', path=path) from None
    ra = _column(table, 'ra', u.deg, path)
    dec = _column(table, 'dec', u.deg, path)
    size_x = _column(table, 'size_X', u.arcmin, path)
    size_y = _column(table, 'size_Y', u.arcmin, path)
    names = [str(v) for v in table['name']] if 'name' in table.colnames else [
        f'#{i}' for i in range(len(table))]
    return {
        'name': names,
        'coord': SkyCoord(ra=ra, dec=dec),
        'radius': np.maximum(size_x.to(u.deg), size_y.to(u.deg)),
    }


def mask_dso(flag: np.ndarray, wcs: WCS, catalog: Mapping[str, Any], size_plus: float,
             value: int) -> list[str]:
    """Flag discs around the catalogue's objects that overlap the image.

    Parameters
    ----------
    flag : numpy.ndarray
        2-d integer array, modified in place.
    wcs : astropy.wcs.WCS
        Image WCS.
    catalog : dict
        From :func:`read_dso_catalog`.
    size_plus : float
        Fractional increase of the radius.
    value : int
        Flag bit(s) to set.

    Returns
    -------
    list of str
        Names of the objects that flagged at least one pixel.
    """
    ny, nx = flag.shape
    if len(catalog['name']) == 0:
        return []
    centre = wcs.pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0)
    centre = SkyCoord(centre.ra, centre.dec)
    # Only objects whose disc can reach the image: a distortion polynomial (SIP)
    # evaluated far outside its image can map a distant object onto it.
    corners = wcs.pixel_to_world([0, nx - 1, 0, nx - 1], [0, 0, ny - 1, ny - 1])
    half_diagonal = max(SkyCoord(c.ra, c.dec).separation(centre).deg for c in corners)
    reach = catalog['radius'].to_value(u.deg) * (1.0 + size_plus)
    near = catalog['coord'].separation(centre).deg < np.minimum(half_diagonal + reach,
                                                         _MAX_SEPARATION_DEG)
    hit = []
    for index in np.flatnonzero(near):
        coord = catalog['coord'][index]
        x0, y0 = wcs.world_to_pixel(coord)
        x0, y0 = float(x0), float(y0)
        # Local pixel scale (deg/pixel) at the object, from a small offset.
        step = SkyCoord(coord.ra, coord.dec + 1 * u.arcsec)
        x1, y1 = wcs.world_to_pixel(step)
        pix_per_deg = np.hypot(float(x1) - x0, float(y1) - y0) * 3600.0
        r_pix = catalog['radius'][index].to_value(u.deg) * (1.0 + size_plus) * pix_per_deg
        # Nearest image point to the centre: skip discs that miss the image.
        dx = max(0.0 - x0, 0.0, x0 - (nx - 1))
        dy = max(0.0 - y0, 0.0, y0 - (ny - 1))
        if np.hypot(dx, dy) > r_pix:
            continue
        x_lo, x_hi = max(int(np.floor(x0 - r_pix)), 0), min(int(np.ceil(x0 + r_pix)), nx - 1)
        y_lo, y_hi = max(int(np.floor(y0 - r_pix)), 0), min(int(np.ceil(y0 + r_pix)), ny - 1)
        yy, xx = np.ogrid[y_lo:y_hi + 1, x_lo:x_hi + 1]
        inside = (xx - x0) ** 2 + (yy - y0) ** 2 <= r_pix ** 2
        if inside.any():
            flag[y_lo:y_hi + 1, x_lo:x_hi + 1][inside] |= flag.dtype.type(value)
            hit.append(catalog['name'][index])
    return hit
