"""A MegaCam-like focal plane: 40 CCDs, their layout, read-out flips and WCS.

Each CCD file is 2112 x 4644 pixels: data in x 33..2080 and y 1..4612 (FITS,
1-indexed; ShapePipe's ``CCD_SIZE = 33, 2080, 1, 4612``), overscan elsewhere.
CCDs 0-35 form 4 rows of 9 (row 0 at the top, north); 36-39 are the "ears"
left and right of the top and bottom rows. CCDs < 18 and 36, 37 are read out
rotated by 180 degrees. The WCS of every CCD of an exposure shares one
tangent point and one TPV distortion polynomial (as Elixir's solutions do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.cfis import EXPOSURE_PIXEL_SCALE, N_CCD, ccd_is_flipped

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

NX_FILE, NY_FILE = 2112, 4644
X_DATA = (33, 2080)   # 1-indexed inclusive
Y_DATA = (1, 4612)
NX_DATA = X_DATA[1] - X_DATA[0] + 1
NY_DATA = Y_DATA[1] - Y_DATA[0] + 1
GAP_X, GAP_Y = 80, 200   # pixels between CCDs

# Radial cubic distortion in the TPV polynomial [deg^-2]: about 2 pixels at
# the corner of the field.
DISTORTION = 6e-4


def ccd_centre(ccd: int) -> tuple[float, float]:
    """Focal-plane position (u east-negative, v north) of a CCD centre, in pixels."""
    if ccd < 36:
        row, col = divmod(ccd, 9)
    else:
        row, col = {36: (0, -1), 37: (0, 9), 38: (3, -1), 39: (3, 9)}[ccd]
    u = (col - 4) * (NX_DATA + GAP_X)
    v = (1.5 - row) * (NY_DATA + GAP_Y)
    return u, v


def ccd_header(ccd: int, ra0: float, dec0: float, scale: float = EXPOSURE_PIXEL_SCALE,
               distortion: float = DISTORTION) -> fits.Header:
    """FITS header cards of a CCD's TAN+TPV WCS for pointing (ra0, dec0) [deg].

    The intermediate world coordinates are xi = -u s, eta = v s (east left),
    u, v the focal-plane pixel offsets from the pointing centre.
    """
    u_c, v_c = ccd_centre(ccd)
    sign = -1.0 if ccd_is_flipped(ccd) else 1.0
    x_mid = (X_DATA[0] + X_DATA[1]) / 2.0
    y_mid = (Y_DATA[0] + Y_DATA[1]) / 2.0
    s = scale / 3600.0
    header = fits.Header()
    header['CTYPE1'] = 'RA---TPV'
    header['CTYPE2'] = 'DEC--TPV'
    header['CUNIT1'] = 'deg'
    header['CUNIT2'] = 'deg'
    header['CRVAL1'] = ra0
    header['CRVAL2'] = dec0
    # u = u_c + sign * (x - x_mid)  ->  u = 0 at x = x_mid - sign * u_c
    header['CRPIX1'] = x_mid - sign * u_c
    header['CRPIX2'] = y_mid - sign * v_c
    header['CD1_1'] = -sign * s
    header['CD1_2'] = 0.0
    header['CD2_1'] = 0.0
    header['CD2_2'] = sign * s
    # All eleven coefficients per axis, as Elixir writes them: the radial cubic
    # term is x^3 + x y^2 (PV_7, PV_9; for axis 2 x and y swap roles).
    for axis in (1, 2):
        for j in range(11):
            header[f'PV{axis}_{j}'] = {1: 1.0, 7: distortion, 9: distortion}.get(j, 0.0)
    header['DATASEC'] = f'[{X_DATA[0]}:{X_DATA[1]},{Y_DATA[0]}:{Y_DATA[1]}]'
    header['CCDNUM'] = ccd
    header['EXTNAME'] = f'ccd{ccd:02d}'
    return header


def ccd_wcs(ccd: int, ra0: float, dec0: float) -> WCS:
    """astropy WCS of a CCD (TAN with TPV distortion)."""
    return WCS(ccd_header(ccd, ra0, dec0))


def ccd_footprint_radius_deg() -> float:
    """Radius that encloses the whole focal plane, in degrees."""
    corners = [ccd_centre(c) for c in range(N_CCD)]
    r = max(np.hypot(abs(u) + NX_DATA / 2, abs(v) + NY_DATA / 2) for u, v in corners)
    return r * EXPOSURE_PIXEL_SCALE / 3600.0


def on_data(x: ArrayLike, y: ArrayLike, margin: float = 0.0) -> np.ndarray:
    """Whether 1-indexed pixel positions fall on a CCD's data section."""
    x = np.asarray(x)
    y = np.asarray(y)
    return ((x >= X_DATA[0] - 0.5 + margin) & (x <= X_DATA[1] + 0.5 - margin)
            & (y >= Y_DATA[0] - 0.5 + margin) & (y <= Y_DATA[1] + 0.5 - margin))
