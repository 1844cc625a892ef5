"""Convert a TPV-distorted TAN WCS (CFHT Elixir) into an equivalent TAN-SIP WCS.

TPV applies a polynomial to the intermediate world coordinates; SIP applies
one to the pixel offsets. Because the intermediate coordinates are a linear
function of the pixel offsets (the CD matrix), a TPV polynomial of degree n is
exactly a SIP polynomial of degree n. We evaluate the TPV mapping with wcslib
(astropy) on a grid over the image and solve for the SIP coefficients by
least squares, then fit the inverse (AP, BP) one degree higher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import warnings

import numpy as np
from astropy.wcs import WCS, FITSFixedWarning

if TYPE_CHECKING:
    from astropy.io import fits

PV_KEY_PREFIXES = ('PV1_', 'PV2_')


def _monomials(u, v, order):
    terms = [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]
    return terms, np.stack([u ** i * v ** j for i, j in terms], axis=1)


def _tpv_degree(header):
    indices = [int(k.split('_')[1]) for k in header if k.startswith(PV_KEY_PREFIXES)
               and header[k] != 0]
    top = max(indices, default=0)
    # PV index -> polynomial degree: 0-2 linear, 3 r, 4-6 quadratic, 7-10 cubic, 11 r^3,
    # 12-16 quartic, 17-22 quintic, 23 r^5, 24-30 sextic, 31-38 septic.
    for limit, degree in ((2, 1), (6, 2), (11, 3), (16, 4), (23, 5), (30, 6)):
        if top <= limit:
            return max(degree, 2)
    return 7


def tpv_to_sip(header: fits.Header, shape: tuple[int, int]) -> fits.Header:
    """A copy of ``header`` whose TPV WCS is replaced by TAN-SIP.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header with ``CTYPE1 = RA---TPV``; other headers are returned as copies.
    shape : tuple
        Image shape ``(ny, nx)``, the area over which SIP must match TPV.

    Returns
    -------
    header : astropy.io.fits.Header
        With ``RA---TAN-SIP``/``DEC--TAN-SIP``, ``A_*``, ``B_*``, ``AP_*``,
        ``BP_*`` keywords and no ``PV`` keywords.
    """
    header = header.copy()
    if not str(header.get('CTYPE1', '')).endswith('TPV'):
        return header
    order = _tpv_degree(header)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FITSFixedWarning)
        tpv = WCS(header)
        tan_header = header.copy()
        for key in [k for k in tan_header if k.startswith(PV_KEY_PREFIXES)]:
            del tan_header[key]
        tan_header['CTYPE1'] = 'RA---TAN'
        tan_header['CTYPE2'] = 'DEC--TAN'
        tan = WCS(tan_header)
    ny, nx = shape
    x, y = np.meshgrid(np.linspace(0.5, nx + 0.5, 40), np.linspace(0.5, ny + 0.5, 80))
    x, y = x.ravel(), y.ravel()
    ra, dec = tpv.all_pix2world(x, y, 1)
    xp, yp = tan.wcs_world2pix(ra, dec, 1)
    crpix1, crpix2 = header['CRPIX1'], header['CRPIX2']
    u, v = x - crpix1, y - crpix2
    up, vp = xp - crpix1, yp - crpix2
    terms, design = _monomials(u, v, order)
    coeff_a = np.linalg.lstsq(design, up - u, rcond=None)[0]
    coeff_b = np.linalg.lstsq(design, vp - v, rcond=None)[0]
    inverse_terms, inverse_design = _monomials(up, vp, order + 1)
    coeff_ap = np.linalg.lstsq(inverse_design, u - up, rcond=None)[0]
    coeff_bp = np.linalg.lstsq(inverse_design, v - vp, rcond=None)[0]
    for key in [k for k in header if k.startswith(PV_KEY_PREFIXES)]:
        del header[key]
    header['CTYPE1'] = 'RA---TAN-SIP'
    header['CTYPE2'] = 'DEC--TAN-SIP'
    header['A_ORDER'] = order
    header['B_ORDER'] = order
    for (i, j), a, b in zip(terms, coeff_a, coeff_b):
        header[f'A_{i}_{j}'] = a
        header[f'B_{i}_{j}'] = b
    header['AP_ORDER'] = order + 1
    header['BP_ORDER'] = order + 1
    for (i, j), a, b in zip(inverse_terms, coeff_ap, coeff_bp):
        header[f'AP_{i}_{j}'] = a
        header[f'BP_{i}_{j}'] = b
    return header
