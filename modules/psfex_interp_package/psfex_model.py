"""Read a PSFEx ``.psf`` file and evaluate its polynomial model at positions.

The model is ``sum_k c_k(x, y) PSF_MASK[k]`` with ``c_k`` the monomials
``dx^i dy^j`` (i + j <= POLDEG1, i running fastest), ``dx = (x - POLZERO1) /
POLSCAL1`` and likewise for y. The basis images are sampled every
``PSF_SAMP`` image pixels; they are resampled to image pixels when
``PSF_SAMP != 1``.
"""

import numpy as np
from astropy.io import fits
from scipy import ndimage

from shapepipe.errors import InputError


class PSFExModel:
    """A PSFEx model of one CCD."""

    def __init__(self, path):
        try:
            with fits.open(path) as hdul:
                header = hdul[1].header
                basis = np.array(hdul[1].data['PSF_MASK'][0], dtype=float)
        except (OSError, KeyError, IndexError) as error:
            raise InputError(f'{path}: not a PSFEx model ({error}); rerun psfex_runner',
                             path=path) from None
        self.path = path
        self.basis = basis                       # (n_terms, ny, nx)
        self.degree = int(header.get('POLDEG1', 0))
        n_axes = int(header.get('POLNAXIS', 0))
        self.zero = [header.get(f'POLZERO{i + 1}', 0.0) for i in range(n_axes)]
        self.scale = [header.get(f'POLSCAL{i + 1}', 1.0) for i in range(n_axes)]
        self.names = [header.get(f'POLNAME{i + 1}', '') for i in range(n_axes)]
        self.sampling = float(header.get('PSF_SAMP', 1.0))
        self.accepted = int(header.get('ACCEPTED', 0))
        self.chi2 = float(header.get('CHI2', np.nan))
        self.fwhm = float(header.get('PSF_FWHM', np.nan))

    def terms(self, x, y):
        """Polynomial terms, shape (n_positions, n_terms)."""
        x = np.atleast_1d(np.asarray(x, float))
        y = np.atleast_1d(np.asarray(y, float))
        if not self.zero:
            return np.ones((len(x), 1))
        dx = (x - self.zero[0]) / self.scale[0]
        dy = (y - self.zero[1]) / self.scale[1]
        columns = [dx ** i * dy ** j for j in range(self.degree + 1)
                   for i in range(self.degree + 1 - j)]
        return np.stack(columns, axis=1)

    def sampled(self, x, y):
        """The model at positions, on its own sampling grid: (n, ny, nx)."""
        terms = self.terms(x, y)
        if terms.shape[1] != self.basis.shape[0]:
            raise InputError(f'{self.path}: {self.basis.shape[0]} basis images for '
                             f'{terms.shape[1]} polynomial terms', path=self.path)
        return np.tensordot(terms, self.basis, axes=(1, 0))

    def stamps(self, x, y, size=None):
        """The model at positions on image pixels, normalised to unit sum."""
        models = self.sampled(x, y)
        if abs(self.sampling - 1.0) > 1e-6:
            zoom = self.sampling
            models = np.stack([ndimage.zoom(m, zoom, order=3) for m in models])
        if size is not None:
            models = np.stack([_centre_crop(m, size) for m in models])
        sums = models.sum(axis=(1, 2))
        sums[sums == 0] = 1.0
        return models / sums[:, None, None]


def _centre_crop(image, size):
    ny, nx = image.shape
    if size > min(ny, nx):
        padded = np.zeros((max(size, ny), max(size, nx)))
        y0, x0 = (padded.shape[0] - ny) // 2, (padded.shape[1] - nx) // 2
        padded[y0:y0 + ny, x0:x0 + nx] = image
        image, (ny, nx) = padded, padded.shape
    y0, x0 = (ny - size) // 2, (nx - size) // 2
    return image[y0:y0 + size, x0:x0 + size]
