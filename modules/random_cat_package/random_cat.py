"""Random positions over the unmasked pixels of a tile, and the tile mask as a
HEALPix map.

A pixel is unmasked where the pipeline flag (mask) image is 0. Positions are
drawn uniformly within unmasked pixels, so they follow both the tile footprint
(pixels outside the data carry the missing-data flag) and the masks.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_area

from shapepipe.errors import InputError


def read_image_header(path: str) -> fits.Header:
    """The WCS header of an image, or of a header-only text file (``vcp --head``)."""
    try:
        with fits.open(path) as hdul:
            for hdu in hdul:
                if hdu.header.get('NAXIS', 0) >= 2 or 'CTYPE1' in hdu.header:
                    return hdu.header.copy()
    except OSError:
        try:
            return fits.Header.fromtextfile(path)
        except (OSError, ValueError) as error:
            raise InputError(f'{path}: neither a FITS image nor a text header ({error})',
                             path=path) from None
    raise InputError(f'{path}: no HDU with a WCS', path=path)


def read_mask(path: str) -> np.ndarray:
    """The flag image (0: unmasked) of a pipeline_flag file."""
    try:
        with fits.open(path) as hdul:
            for hdu in hdul:
                if hdu.data is not None and hdu.data.ndim == 2:
                    return np.asarray(hdu.data)
    except OSError as error:
        raise InputError(f'{path}: cannot read the mask ({error})', path=path) from None
    raise InputError(f'{path}: no 2-D image in the mask file', path=path)


def random_positions(
    mask: np.ndarray, wcs: WCS, n_random: float, density: bool, rng: np.random.Generator,
) -> tuple[Table, dict[str, float]]:
    """Draw random positions over the unmasked pixels.

    Parameters
    ----------
    mask : numpy.ndarray
        Flag image, 0 where unmasked.
    wcs : astropy.wcs.WCS
        The image WCS.
    n_random : float
        Number of points, or points per square degree of unmasked area when
        ``density`` is True.
    density : bool
        How to read ``n_random``.
    rng : numpy.random.Generator

    Returns
    -------
    table : astropy.table.Table
        Columns RA, DEC [deg], x, y (FITS pixels, 1-based).
    areas : dict
        ``total`` and ``unmasked`` area [deg^2].
    """
    area_pix = proj_plane_pixel_area(wcs)
    free = np.flatnonzero(mask.ravel() == 0)
    areas = {'total': area_pix * mask.size, 'unmasked': area_pix * free.size}
    n = int(round(n_random * areas['unmasked'])) if density else int(n_random)
    if free.size == 0:
        n = 0
    pick = rng.choice(free, size=n, replace=True) if n else np.zeros(0, int)
    row, col = np.unravel_index(pick, mask.shape)
    # Pixel i covers [i + 0.5, i + 1.5) in 1-based FITS coordinates.
    x = col + 0.5 + rng.random(n)
    y = row + 0.5 + rng.random(n)
    ra, dec = wcs.all_pix2world(x, y, 1) if n else (np.zeros(0), np.zeros(0))
    return Table({'RA': ra, 'DEC': dec, 'x': x, 'y': y}), areas


def healpix_mask(mask: np.ndarray, wcs: WCS, nside: int) -> np.ndarray:
    """The unmasked fraction of each HEALPix pixel (RING, galactic) the tile touches.

    Returns a full-sky float array: NaN off the tile, else the fraction of the
    tile's pixels in that HEALPix pixel that are unmasked.
    """
    from astropy.coordinates import SkyCoord
    from astropy_healpix import HEALPix

    hp = HEALPix(nside=nside, order='ring', frame='galactic')
    ny, nx = mask.shape
    step = max(1, int(min(nx, ny) / 2000))
    y, x = np.mgrid[0:ny:step, 0:nx:step]
    ra, dec = wcs.all_pix2world(x.ravel() + 1.0, y.ravel() + 1.0, 1)
    index = hp.skycoord_to_healpix(SkyCoord(ra, dec, unit='deg', frame='icrs'))
    good = (mask[y, x].ravel() == 0).astype(float)
    counts = np.bincount(index, minlength=hp.npix).astype(float)
    unmasked = np.bincount(index, weights=good, minlength=hp.npix)
    with np.errstate(invalid='ignore'):
        return np.where(counts > 0, unmasked / counts, np.nan)
