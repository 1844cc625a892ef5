"""Drawing objects into images: each object on its own small stamp, added
into the big image (fast), with its local WCS Jacobian."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
import galsim
import numpy as np

from shapepipe.simulation.psf_model import psf_profile

if TYPE_CHECKING:
    from astropy.io import fits
    from astropy.wcs import WCS
    from numpy.typing import ArrayLike

    from shapepipe.simulation.psf_model import ExposurePSF

GSPARAMS = galsim.GSParams(maximum_fft_size=8192, folding_threshold=1e-2)


def local_jacobians(wcs: WCS, ra: ArrayLike, dec: ArrayLike,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions and local Jacobians d(u, v)/d(x, y) [arcsec / pixel].

    (u, v) is galsim's local sky frame: u to the west, v to the north.

    Returns
    -------
    x, y : ndarray
        1-indexed (FITS) pixel positions.
    jac : ndarray, shape (n, 2, 2)
        ``[[du/dx, du/dy], [dv/dx, dv/dy]]``.
    """
    ra = np.atleast_1d(np.asarray(ra, float))
    dec = np.atleast_1d(np.asarray(dec, float))
    step = 0.5 / 3600.0
    cos_dec = np.cos(np.radians(dec))
    x, y = wcs.all_world2pix(ra, dec, 1)
    xu_p, yu_p = wcs.all_world2pix(ra - step / cos_dec, dec, 1)
    xu_m, yu_m = wcs.all_world2pix(ra + step / cos_dec, dec, 1)
    xv_p, yv_p = wcs.all_world2pix(ra, dec + step, 1)
    xv_m, yv_m = wcs.all_world2pix(ra, dec - step, 1)
    d = 2 * step * 3600.0
    inverse = np.empty((len(ra), 2, 2))
    inverse[:, 0, 0] = (xu_p - xu_m) / d
    inverse[:, 0, 1] = (xv_p - xv_m) / d
    inverse[:, 1, 0] = (yu_p - yu_m) / d
    inverse[:, 1, 1] = (yv_p - yv_m) / d
    return x, y, np.linalg.inv(inverse)


def galaxy_profile(hlr: float, bulge_frac: float, e1: float, e2: float, g1: float,
                   g2: float) -> galsim.GSObject:
    """Bulge + disk galaxy (arcsec), intrinsic shape then lensing shear."""
    disk = galsim.Exponential(half_light_radius=hlr, gsparams=GSPARAMS)
    if bulge_frac > 0:
        bulge = galsim.DeVaucouleurs(half_light_radius=0.6 * hlr, gsparams=GSPARAMS)
        profile = galsim.Add([disk * (1 - bulge_frac), bulge * bulge_frac])
    else:
        profile = disk
    return profile.shear(g1=e1, g2=e2).shear(g1=g1, g2=g2)


def stamp_size(hlr: float, fwhm: float, flux: float, scale: float, noise_sigma: float) -> int:
    """Odd stamp size [pixels] holding the object's light above the noise."""
    radius = 3.0 * fwhm + 5.0 * hlr
    if flux > 0 and noise_sigma > 0:
        # Moffat(beta=3) wings: extend bright stars until the wing drops below the noise.
        peak = flux / (1.13 * fwhm ** 2) * scale ** 2
        extra = fwhm * (max(peak / (0.3 * noise_sigma), 1.0)) ** (1 / 6.0)
        radius = max(radius, extra)
    half = int(np.clip(np.ceil(radius / scale), 8, 300))
    return 2 * half + 1


def draw_objects(image: galsim.Image, objects: Mapping[str, np.ndarray], x: np.ndarray,
                 y: np.ndarray, jac: np.ndarray, fluxes: np.ndarray,
                 psfs: Sequence[galsim.GSObject], psf_fwhm: np.ndarray, scale: float,
                 noise_sigma: float) -> None:
    """Add objects to ``image`` (a galsim Image with FITS bounds).

    Parameters
    ----------
    objects : dict of arrays
        Truth columns (hlr, bulge_frac, e1_int, e2_int, g1, g2, is_star).
    x, y, jac : arrays
        Pixel positions and local Jacobians (see :func:`local_jacobians`).
    fluxes : array
        Fluxes in image units.
    psfs : list of galsim.GSObject
        The PSF at each object.
    psf_fwhm : array
        The PSF FWHM [arcsec] at each object (sets the stamp size).
    """
    bounds = image.bounds
    for i in range(len(x)):
        hlr = objects['hlr'][i]
        n = stamp_size(hlr, psf_fwhm[i], fluxes[i], scale, noise_sigma)
        ix, iy = int(np.floor(x[i] + 0.5)), int(np.floor(y[i] + 0.5))
        if (ix + n // 2 < bounds.xmin or ix - n // 2 > bounds.xmax
                or iy + n // 2 < bounds.ymin or iy - n // 2 > bounds.ymax):
            continue
        if objects['is_star'][i]:
            profile = psfs[i].withFlux(fluxes[i])
        else:
            galaxy = galaxy_profile(hlr, objects['bulge_frac'][i], objects['e1_int'][i],
                                    objects['e2_int'][i], objects['g1'][i], objects['g2'][i])
            profile = galsim.Convolve(galaxy.withFlux(fluxes[i]), psfs[i], gsparams=GSPARAMS)
        local = galsim.JacobianWCS(*jac[i].ravel())
        stamp = profile.drawImage(nx=n, ny=n, wcs=local, offset=(x[i] - ix, y[i] - iy))
        stamp.setCenter(ix, iy)
        overlap = stamp.bounds & bounds
        if overlap.isDefined():
            image[overlap] += stamp[overlap]


def exposure_psfs(exposure_psf: ExposurePSF, u_deg: ArrayLike,
                  v_deg: ArrayLike) -> list[galsim.GSObject]:
    """galsim PSF of one exposure at focal-plane positions."""
    fwhm, g1, g2 = exposure_psf.params(u_deg, v_deg)
    return [psf_profile(f, a, b, GSPARAMS) for f, a, b in zip(fwhm, g1, g2)]


def sky_offsets_deg(ra: ArrayLike, dec: ArrayLike, ra0: float,
                    dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic offsets (u to the west, v to the north) in degrees from (ra0, dec0)."""
    ra, dec = np.radians(ra), np.radians(dec)
    ra0, dec0 = np.radians(ra0), np.radians(dec0)
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cos_c
    return -np.degrees(xi), np.degrees(eta)


def from_tangent_offsets(u: ArrayLike, v: ArrayLike, ra0: float,
                         dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`sky_offsets_deg` with offsets (u west, v north) in
    arcsec: (ra, dec) in degrees."""
    xi = -np.radians(np.asarray(u, float) / 3600.0)
    eta = np.radians(np.asarray(v, float) / 3600.0)
    d0 = np.radians(dec0)
    denom = np.cos(d0) - eta * np.sin(d0)
    ra = ra0 + np.degrees(np.arctan2(xi, denom))
    dec = np.degrees(np.arctan2(np.sin(d0) + eta * np.cos(d0), np.hypot(xi, denom)))
    return ra, dec


def true_psf_stamps(exposure: fits.FITS_record | Mapping[str, Any], wcs: WCS, ra: ArrayLike,
                    dec: ArrayLike, size: int = 51) -> np.ndarray:
    """The simulator's true PSF, pixelised, at sky positions of one exposure.

    Parameters
    ----------
    exposure : row of truth.fits' EXPOSURES table
        The exposure (its ``psf_*`` parameters and pointing ``ra0``, ``dec0``).
    wcs : astropy.wcs.WCS
        The CCD's WCS (its local Jacobian orients and scales the stamps).
    ra, dec : array
        Positions [deg].

    Returns
    -------
    ndarray, shape (n, size, size)
        Unit-flux stamps centred on the central pixel, drawn as the simulator
        draws stars (PSF convolved with the pixel).
    """
    from shapepipe.simulation.psf_model import ExposurePSF

    psf = ExposurePSF(exposure['psf_fwhm'], exposure['psf_fwhm_slope'],
                      tuple(exposure[f'psf_{k}'] for k in ('a0', 'a1', 'a2', 'b0', 'b1', 'b2')))
    _, _, jac = local_jacobians(wcs, ra, dec)
    u, v = sky_offsets_deg(np.atleast_1d(ra), np.atleast_1d(dec),
                           exposure['ra0'], exposure['dec0'])
    fwhm, g1, g2 = psf.params(u, v)
    stamps = [psf_profile(float(f), float(a), float(b)).drawImage(
        nx=size, ny=size, wcs=galsim.JacobianWCS(*j.ravel())).array
        for f, a, b, j in zip(fwhm, g1, g2, jac)]
    return np.array(stamps).reshape(len(jac), size, size)
