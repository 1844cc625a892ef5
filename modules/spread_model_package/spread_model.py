"""SPREAD_MODEL and its error (Desai et al. 2012; Bouy et al. 2013).

For an object stamp I with inverse-variance weights w, the local PSF P (here
a round Gaussian of the objects' mean HSM sigma over its epochs) and
G = P convolved with an exponential disk of scale FWHM/16:

    SPREAD_MODEL = (G.wI)/(P.wI) - (G.wP)/(P.wP)

Its variance follows from var(G.wI) = G.wG, var(P.wI) = P.wP and
cov = G.wP. All objects are computed at once (numpy FFTs).
"""

import numpy as np

SIGMA_TO_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _grid(size):
    half = size // 2
    return np.mgrid[-half:half + 1, -half:half + 1].astype(float)


def model_stamps(sigma, dx, dy, size):
    """Unit-flux Gaussian PSFs P and P (x) exponential G, shape (n, size, size).

    ``sigma`` is the PSF's Gaussian sigma in pixels; (dx, dy) the object's offset
    from the stamp's central pixel.
    """
    yy, xx = _grid(size)
    sigma = np.asarray(sigma, float)[:, None, None]
    rx = xx[None] - np.asarray(dx, float)[:, None, None]
    ry = yy[None] - np.asarray(dy, float)[:, None, None]
    psf = np.exp(-0.5 * (rx ** 2 + ry ** 2) / sigma ** 2)
    psf /= psf.sum(axis=(1, 2), keepdims=True)
    scale = SIGMA_TO_FWHM * sigma / 16.0
    disk = np.exp(-np.hypot(xx[None], yy[None]) / scale)
    disk /= disk.sum(axis=(1, 2), keepdims=True)
    shift = np.fft.ifftshift(disk, axes=(1, 2))
    galaxy = np.real(np.fft.ifft2(np.fft.fft2(psf) * np.fft.fft2(shift)))
    return psf, galaxy


def spread_model(image, weight, sigma, dx, dy):
    """(SPREAD_MODEL, SPREADERR_MODEL, flag) for a batch of stamps.

    Masked pixels (image < -1e29, weight <= 0 or non-finite) get zero weight.
    flag 1: no usable pixel or a degenerate fit (values set to -1 / 1).
    """
    image = np.asarray(image, float)
    weight = np.asarray(weight, float)
    bad = ~np.isfinite(image) | (image < -1e29) | ~np.isfinite(weight) | (weight <= 0)
    image = np.where(bad, 0.0, image)
    weight = np.where(bad, 0.0, weight)
    psf, galaxy = model_stamps(sigma, dx, dy, image.shape[-1])
    gwi = (galaxy * weight * image).sum(axis=(1, 2))
    pwi = (psf * weight * image).sum(axis=(1, 2))
    gwp = (galaxy * weight * psf).sum(axis=(1, 2))
    pwp = (psf * weight * psf).sum(axis=(1, 2))
    gwg = (galaxy * weight * galaxy).sum(axis=(1, 2))
    with np.errstate(divide='ignore', invalid='ignore'):
        sm = gwi / pwi - gwp / pwp
        variance = (gwg * pwi ** 2 + pwp * gwi ** 2 - 2 * gwp * gwi * pwi) / pwi ** 4
    flag = (~np.isfinite(sm) | ~np.isfinite(variance) | (pwi <= 0)).astype(np.int32)
    sm = np.where(flag == 0, sm, -1.0)
    err = np.where(flag == 0, np.sqrt(np.abs(variance)), 1.0)
    return sm, err, flag
