"""Read a PSFEx ``.psf`` file and evaluate its polynomial model at positions.

The model is ``sum_k c_k(x, y) PSF_MASK[k]`` with ``c_k`` the monomials
``dx^i dy^j`` (i + j <= POLDEG1, i running fastest), ``dx = (x - POLZERO1) /
POLSCAL1`` and likewise for y. The basis images are sampled every
``PSF_SAMP`` image pixels; they are resampled to image pixels when
``PSF_SAMP != 1``.

Resampling correction. Without a basis (``BASIS_TYPE NONE``, which PSFEx's
default ``PIXEL_AUTO`` picks when the PSF FWHM is 3 pixels or more), PSFEx
builds the model from the stars themselves, each first re-centred onto the
model grid by Lanczos3 interpolation. For stars at random sub-pixel
positions the aliased terms of that interpolation average out, and the model
is the PSF convolved with the continuous Lanczos3 kernel, whose Fourier
response rises to 1.009 at 0.2 cycles per pixel and falls to 0.50 at
Nyquist. At CFIS seeing (FWHM 3-4.5 pixels) this makes the model 0.4-0.7 %
too small in size (T). :class:`PSFExModel` divides the basis images by that
response when ``correct_resampling`` is set and the model has no basis and
``PSF_SAMP = 1``. The basis type is the ``BASISTYP`` header keyword that
``psfex_runner`` writes; files without it are taken to come from
``PIXEL_AUTO``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from functools import lru_cache

import numpy as np
from astropy.io import fits
from scipy import ndimage

from shapepipe.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


#: PSFEx's threshold [pixels] between a pixel basis and none in PIXEL_AUTO mode.
PIXEL_AUTO_FWHM = 3.0


def resolved_basis(basis_type: str, fwhm: float) -> str:
    """The basis PSFEx actually uses: PIXEL_AUTO is PIXEL below 3 pixels FWHM, else NONE."""
    basis_type = basis_type.strip().upper().replace('-', '_')
    if basis_type == 'PIXEL_AUTO':
        return 'PIXEL' if fwhm < PIXEL_AUTO_FWHM else 'NONE'
    return basis_type


@lru_cache(maxsize=8)
def lanczos3_response(n: int) -> np.ndarray:
    """Fourier response of the continuous Lanczos3 kernel at ``np.fft.fftfreq(n)``,
    normalised to 1 at zero frequency."""
    x = np.linspace(-3.0, 3.0, 6001)
    kernel = np.sinc(x) * np.sinc(x / 3.0)
    freq = np.fft.fftfreq(n)
    response = np.trapezoid(kernel[None, :] * np.cos(2 * np.pi * freq[:, None] * x[None, :]),
                            x, axis=1)
    return response / response[0]


def undo_lanczos3(images: np.ndarray) -> np.ndarray:
    """Divide images (..., ny, nx) by the separable Lanczos3 response (zero-padded FFT)."""
    ny, nx = images.shape[-2:]
    pad_y, pad_x = 2 * ny, 2 * nx
    spectrum = np.fft.rfft2(images, s=(pad_y, pad_x))
    response = np.outer(lanczos3_response(pad_y), lanczos3_response(pad_x)[:pad_x // 2 + 1])
    return np.fft.irfft2(spectrum / response, s=(pad_y, pad_x))[..., :ny, :nx]


class PSFExModel:
    """A PSFEx model of one CCD."""

    def __init__(self, path, correct_resampling=True):
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
        self.basis_type = resolved_basis(str(header.get('BASISTYP', 'PIXEL_AUTO')), self.fwhm)
        #: The model grid is not the image pixel grid (PSF_SAMP != 1).
        self.resampled = abs(self.sampling - 1.0) > 1e-6
        self.corrected = correct_resampling and self.basis_type == 'NONE' and not self.resampled
        if self.corrected:
            self.basis = undo_lanczos3(self.basis)

    def terms(self, x: ArrayLike, y: ArrayLike) -> np.ndarray:
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

    def sampled(self, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """The model at positions, on its own sampling grid: (n, ny, nx)."""
        terms = self.terms(x, y)
        if terms.shape[1] != self.basis.shape[0]:
            raise InputError(f'{self.path}: {self.basis.shape[0]} basis images for '
                             f'{terms.shape[1]} polynomial terms', path=self.path)
        return np.tensordot(terms, self.basis, axes=(1, 0))

    def stamps(self, x: ArrayLike, y: ArrayLike, size: int | None = None) -> np.ndarray:
        """The model at positions on image pixels, normalised to unit sum."""
        models = self.sampled(x, y)
        if self.resampled:
            models = self._on_image_pixels(models)
        if size is not None:
            models = np.stack([_centre_crop(m, size) for m in models])
        sums = models.sum(axis=(1, 2))
        sums[sums == 0] = 1.0
        return models / sums[:, None, None]

    @property
    def stamp_shape(self) -> tuple[int, int]:
        """Shape of :meth:`stamps` without ``size``."""
        n = 2 * self._half_width() + 1
        return (n, n) if self.resampled else self.basis.shape[1:]

    def _half_width(self):
        return int(np.floor((self.basis.shape[1] // 2) * self.sampling + 1e-6))

    def _on_image_pixels(self, models):
        """Resample models from the ``PSF_SAMP`` grid to image pixels.

        The model centre is grid pixel ``n // 2`` (PSFEx's convention); image
        pixel ``k`` from the centre sits at grid position ``n // 2 +
        k / PSF_SAMP``. With ``PSF_SAMP`` = 1/2, 1/3, ... these are grid nodes
        and the values are taken as they are; otherwise a cubic spline
        interpolates between them.
        """
        half = self._half_width()
        offsets = np.arange(-half, half + 1) / self.sampling
        rows = self.basis.shape[1] // 2 + offsets
        cols = self.basis.shape[2] // 2 + offsets
        grid = np.meshgrid(rows, cols, indexing='ij')
        return np.stack([ndimage.map_coordinates(m, grid, order=3, mode='constant')
                         for m in models])


def _centre_crop(image, size):
    ny, nx = image.shape
    if size > min(ny, nx):
        padded = np.zeros((max(size, ny), max(size, nx)))
        y0, x0 = (padded.shape[0] - ny) // 2, (padded.shape[1] - nx) // 2
        padded[y0:y0 + ny, x0:x0 + nx] = image
        image, (ny, nx) = padded, padded.shape
    y0, x0 = (ny - size) // 2, (nx - size) // 2
    return image[y0:y0 + size, x0:x0 + size]
