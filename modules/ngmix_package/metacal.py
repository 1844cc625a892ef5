"""Metacalibration images for many stamps at once, with numpy FFTs.

For each stamp (one object on one epoch) metacalibration deconvolves the
observed image by its pixelised PSF, shears the deconvolved galaxy by
``+-step`` in g1 and g2 (in world coordinates), reconvolves by a round
Gaussian target PSF slightly larger than the original one, and samples the
result at the pixel centres without adding another pixel (Huff & Mandelbaum
2017; Sheldon & Huff 2017).

How it is computed here, for a whole batch of stamps at a time:

* ``I(k)``, ``P(k)``: discrete-time Fourier transforms of the zero-padded
  stamp and of the PSF image (normalised to unit sum), origin at the stamp
  centre ``N // 2``. Their ratio is the deconvolved galaxy; the pixel
  response is part of ``P``, so it is never applied twice.
* Shearing the galaxy by the pixel-space matrix ``M = J^-1 S J`` (``J`` the
  WCS Jacobian, ``S`` the world shear) and reconvolving by the target ``T``
  equals resampling ``q = F^-1[T(S^-1 k_w) I(k) / P(k)]`` at ``M^-1 x``:
  the target enters inverse-sheared and the resampling applies the shear.
  ``q`` is band-limited by the target PSF, so the resampling is exact up to
  the target's (negligible) power beyond the Nyquist frequency.
* ``M^-1 = U L D`` (two skews and a diagonal scaling): the skews are
  per-row and per-column sub-pixel shifts applied as Fourier phase ramps
  (the first one inside the inverse FFT), the scaling is a product with
  periodic-sinc matrices that also crops the stamp.
* Noise symmetrisation ("fixnoise"): a pure-noise image of the same variance
  is rotated by 90 degrees, put through the identical operations, rotated
  back and added; the caller halves the weights.

All lengths are in pixels; ``J`` maps pixel offsets to world offsets
(arcsec), so targets are round in world coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
import scipy.fft as sfft

MCAL_TYPES = ('noshear', '1p', '1m', '2p', '2m')

SMALL_KVAL = 1e-2     # the PSF's k-profile level that fixes the target ...
SMALLER_KVAL = 3e-3   # ... and the target's value at the same k (ngmix 'gauss' rule)
PAD_PIXELS = 12       # minimum zero padding around a stamp (pixels)


def fft_size(n: int, pad: int = PAD_PIXELS) -> int:
    """Smallest even 2^a 3^b 5^c size >= ``n + pad``."""
    size = n + pad
    while True:
        if size % 2 == 0:
            rest = size
            for factor in (2, 3, 5):
                while rest % factor == 0:
                    rest //= factor
            if rest == 1:
                return size
        size += 1


def shear_matrix(g1: float, g2: float) -> np.ndarray:
    """The area-preserving matrix of a reduced shear (galsim's convention)."""
    norm = 1.0 / np.sqrt(1.0 - g1 * g1 - g2 * g2)
    return norm * np.array([[1.0 + g1, g2], [g2, 1.0 - g1]])


def type_shear(kind: str, step: float) -> tuple[float, float]:
    """(g1, g2) applied for a metacal type."""
    return {'noshear': (0.0, 0.0), '1p': (step, 0.0), '1m': (-step, 0.0),
            '2p': (0.0, step), '2m': (0.0, -step)}[kind]


def _embed(stamps, size):
    """Zero-pad (B, n, n) stamps to (B, size, size), stamp centre n//2 at index 0."""
    batch, n = stamps.shape[0], stamps.shape[-1]
    padded = np.zeros((batch, size, size))
    start = size // 2 - n // 2
    padded[:, start:start + n, start:start + n] = stamps
    return np.fft.ifftshift(padded, axes=(-2, -1))


def _crop(centred, n):
    size = centred.shape[-1]
    start = size // 2 - n // 2
    return centred[..., start:start + n, start:start + n]


def _k_grids(size):
    """Pixel wave numbers (rad/pixel) of an rfft2 grid: ky (size, 1), kx (1, size//2+1)."""
    ky = 2.0 * np.pi * np.fft.fftfreq(size)[:, None]
    kx = 2.0 * np.pi * np.fft.rfftfreq(size)[None, :]
    return ky, kx


def _world_k(jacobian, ky, kx):
    """World wave numbers k_w = J^-T k_p for each stamp: two (B, ny, nx) arrays."""
    inv = np.linalg.inv(jacobian)          # (B, 2, 2); k_w = inv^T k_p
    ku = inv[:, 0, 0, None, None] * kx + inv[:, 1, 0, None, None] * ky
    kv = inv[:, 0, 1, None, None] * kx + inv[:, 1, 1, None, None] * ky
    return ku, kv


def target_sigma(psf_k: np.ndarray, ku: np.ndarray, kv: np.ndarray, step: float) -> np.ndarray:
    """World sigma of the round Gaussian target for each PSF (ngmix 'gauss' rule).

    The rule: find the smallest |k| where the PSF's k-profile falls below
    ``SMALL_KVAL``, choose the Gaussian whose profile is ``SMALLER_KVAL``
    there, and dilate it by ``1 + 2 |step|``. On the FFT grid that |k| is
    quantised; it is refined by a least-squares fit of
    ``-2 ln P(k) = k^T A k`` to the grid samples near the contour (levels
    0.2x-5x, |k| within a factor 1.5 of the grid value), kept when it lies
    within the grid's resolution of the grid value, so the target varies
    smoothly with the PSF. PSF models with a high-k floor (PSFEx's) cannot
    shrink the target: the grid value bounds the refinement.
    """
    real = psf_k.real
    ksq = ku * ku + kv * kv
    below = real < SMALL_KVAL
    grid_sq = np.where(below, ksq, np.inf).min(axis=(-2, -1))
    grid_sq = np.where(np.isfinite(grid_sq), grid_sq, ksq.max(axis=(-2, -1)))
    spacing_sq = np.maximum(ksq[:, 0, 1], ksq[:, 1, 0])        # one grid step, squared
    near = ((real > 0.2 * SMALL_KVAL) & (real < 5.0 * SMALL_KVAL)
            & (ksq < 2.25 * grid_sq[:, None, None]) & (ksq > 0.25 * grid_sq[:, None, None]))
    rhs = -2.0 * np.log(np.where(near, real, 1.0))
    basis = (ku * ku, 2.0 * ku * kv, kv * kv)
    normal = np.empty(real.shape[:1] + (3, 3))
    vector = np.empty(real.shape[:1] + (3,))
    for i in range(3):
        vector[:, i] = (near * basis[i] * rhs).sum(axis=(-2, -1))
        for j in range(i, 3):
            normal[:, i, j] = normal[:, j, i] = (near * basis[i] * basis[j]).sum(axis=(-2, -1))
    enough = near.sum(axis=(-2, -1)) >= 6
    normal[~enough] = np.eye(3)
    coef = np.linalg.solve(normal, vector[..., None])[..., 0]
    quad = np.stack([coef[:, [0, 1]], coef[:, [1, 2]]], axis=1)
    lam_max = np.linalg.eigvalsh(quad)[:, -1]
    with np.errstate(divide='ignore', invalid='ignore'):
        fit_sq = -2.0 * np.log(SMALL_KVAL) / lam_max
        k_grid, k_fit, dk = np.sqrt(grid_sq), np.sqrt(fit_sq), np.sqrt(spacing_sq)
        good = enough & np.isfinite(k_fit) & (lam_max > 0) & (k_fit > k_grid - 1.5 * dk) & (
            k_fit < k_grid + 0.5 * dk)
    k_min_sq = np.where(good, fit_sq, grid_sq)
    sigma = np.sqrt(-2.0 * np.log(SMALLER_KVAL) / k_min_sq)
    return sigma * (1.0 + 2.0 * abs(step))


def _signed_coords(size):
    """Pixel coordinate of each index of an FFT grid whose origin is index 0."""
    coords = np.arange(size)
    return np.where(coords < size // 2, coords, coords - size)


def dirichlet_matrix(outputs: np.ndarray, size: int) -> np.ndarray:
    """Periodic-sinc interpolation weights from an even FFT grid to ``outputs``.

    ``outputs`` (..., n) are real coordinates; the result (..., n, size)
    interpolates a band-limited signal sampled at the signed integer
    coordinates of the grid. Computed with the angle-difference identity so
    only 1-D trigonometric functions are evaluated.
    """
    beta = _signed_coords(size).astype(float)
    alpha = np.asarray(outputs, float)[..., None]
    ta = np.tan(np.pi * alpha / size)
    tb = np.tan(np.pi * beta / size)
    sign = np.where(beta % 2 == 0, 1.0, -1.0)
    denom = ta - tb
    same = np.abs(denom) < 1e-13
    weights = sign * np.sin(np.pi * alpha) * (1.0 + ta * tb) / (size * np.where(same, 1.0, denom))
    return np.where(same, 1.0, weights)


def _sheared_stamps(spectra, matrix, out_coords, size):
    """Stamps of ``q(A x)`` from the spectra of ``q`` (origin at index 0).

    ``spectra`` (S, B, size, size//2+1); ``matrix`` (B, 2, 2) with ``A = U L D``
    for the skews ``U`` (along x) and ``L`` (along y) and the scaling ``D``.
    """
    b, c, d = matrix[:, 0, 1], matrix[:, 1, 0], matrix[:, 1, 1]
    skew_x, skew_y = b / d, c * d
    coords = _signed_coords(size).astype(float)
    k = 2.0 * np.pi * sfft.rfftfreq(size)       # along x, then along y
    # q1(x, y) = q(x + skew_x y, y): phase ramp between the two inverse FFTs.
    rows = sfft.ifft(spectra, axis=-2)
    rows *= np.exp(1j * (skew_x[:, None, None] * coords[None, :, None]) * k[None, None, :])
    q1 = sfft.irfft(rows, n=size, axis=-1)
    # q2(x, y) = q1(x, y + skew_y x)
    cols = sfft.rfft(q1, axis=-2)
    cols *= np.exp(1j * k[None, :, None] * (skew_y[:, None, None] * coords[None, None, :]))
    q2 = sfft.irfft(cols, n=size, axis=-2)
    # j(x, y) = q2(x / d, d y) at the stamp's pixels
    wx = dirichlet_matrix(out_coords[None, :] / d[:, None], size)
    wy = dirichlet_matrix(out_coords[None, :] * d[:, None], size)
    return wy @ q2 @ wx.transpose(0, 2, 1)


def _metacal_chunk(stack, psfs, jacobians, step, types, size, n):
    """Metacal images of one chunk; ``stack`` (S, B, n, n) images and noises."""
    n_stack, batch = stack.shape[:2]
    stack_k = sfft.rfft2(_embed(stack.reshape(n_stack * batch, n, n), size))
    stack_k = stack_k.reshape(n_stack, batch, size, size // 2 + 1)
    psf_k = sfft.rfft2(_embed(psfs, size))
    ky, kx = _k_grids(size)
    ku, kv = _world_k(jacobians, ky, kx)
    sigma = target_sigma(psf_k, ku, kv, step)
    safe = np.abs(psf_k) > 1e-12
    deconvolved = stack_k * np.where(safe, 1.0 / np.where(safe, psf_k, 1.0), 0.0)
    inv_jac = np.linalg.inv(jacobians)
    out_coords = np.arange(n, dtype=float) - n // 2
    index = np.arange(n) - n // 2
    out = {'target_sigma': sigma}
    for kind in types:
        g1, g2 = type_shear(kind, step)
        s_inv = np.linalg.inv(shear_matrix(g1, g2))
        su = s_inv[0, 0] * ku + s_inv[0, 1] * kv
        sv = s_inv[1, 0] * ku + s_inv[1, 1] * kv
        spectra = deconvolved * np.exp(-0.5 * sigma[:, None, None] ** 2 * (su * su + sv * sv))
        if kind == 'noshear':
            q = sfft.irfft2(spectra, s=(size, size))
            stamps = q[..., index[:, None], index[None, :]]
        else:
            # pixel-space inverse shear A = J^-1 S^-1 J
            stamps = _sheared_stamps(spectra, inv_jac @ s_inv[None] @ jacobians,
                                     out_coords, size)
        image = stamps[0].copy()
        if n_stack > 1:
            image += np.rot90(stamps[1], -1, axes=(-2, -1))
        out[kind] = image
    return out


def metacal_images(images: np.ndarray, noises: np.ndarray | None, psfs: np.ndarray,
                   jacobians: np.ndarray, step: float = 0.01, types: Sequence[str] = MCAL_TYPES,
                   chunk: int = 32) -> dict[str, np.ndarray]:
    """Metacalibration images of a batch of stamps.

    Parameters
    ----------
    images : ndarray (B, N, N)
        Background-subtracted stamps, masked pixels already replaced by noise.
    noises : ndarray (B, N, N) or None
        Pure-noise images with the stamps' variance, for noise symmetrisation
        (rotated by 90 degrees here); ``None`` skips it.
    psfs : ndarray (B, Np, Np)
        Pixelised PSF images centred at ``Np // 2`` (normalised to unit sum
        unless they already sum to 1 within 1e-3).
    jacobians : ndarray (B, 2, 2)
        World (arcsec) offset per pixel offset, [[du/dx, du/dy], [dv/dx, dv/dy]].
    step : float
        Shear step of the ``1p``... images.
    types : sequence of str
        Which of ``MCAL_TYPES`` to make.
    chunk : int
        Stamps transformed together (small chunks stay in the CPU cache).

    Returns
    -------
    dict
        Type -> (B, N, N) images (noise-symmetrised when ``noises`` given),
        and ``'target_sigma'`` -> (B,) world sigma of each target PSF.
    """
    images = np.asarray(images, float)
    batch, n = images.shape[0], images.shape[-1]
    psfs = np.asarray(psfs, float)
    jacobians = np.asarray(jacobians, float).reshape(batch, 2, 2)
    size = fft_size(n)
    if psfs.shape[-1] > size:
        psfs = _crop(psfs, size)
    # Unit-sum PSF models (PSFEx's) are used as they are: their truncation
    # matches the stamps'. Others are normalised.
    psf_sum = psfs.sum(axis=(-2, -1), keepdims=True)
    psfs = np.where(np.abs(psf_sum - 1.0) > 1e-3, psfs / psf_sum, psfs)
    stack = images[None] if noises is None else np.stack(
        [images, np.rot90(np.asarray(noises, float), 1, axes=(-2, -1))])
    results = {kind: np.empty((batch, n, n)) for kind in types}
    results['target_sigma'] = np.empty(batch)
    for start in range(0, batch, chunk):
        part = slice(start, min(start + chunk, batch))
        out = _metacal_chunk(stack[:, part], psfs[part], jacobians[part], step, types, size, n)
        for key, value in out.items():
            results[key][part] = value
    return results


def sheared_masks(masks: np.ndarray, jacobians: np.ndarray, kind: str,
                  step: float = 0.01) -> np.ndarray:
    """Masks (B, N, N) as they appear in the metacal images of type ``kind``.

    A metacal image is the (PSF-corrected) stamp sheared about its centre
    ``N // 2``: ``image_kind(x) = q(A x)`` with the pixel-space inverse shear
    ``A = J^-1 S^-1 J``. A mask drawn on the stamp (neighbours' pixels) is
    resampled the same way, bilinearly, so a pixel's masked fraction changes
    smoothly with the shear (no pixel flips between 1p and 1m). Outside the
    stamp the mask is extended by its edge values. ``noshear`` returns the masks as floats.
    """
    from scipy import ndimage

    masks = np.asarray(masks, float)
    if kind == 'noshear' or not masks.size:
        return masks.copy()
    n = masks.shape[-1]
    g1, g2 = type_shear(kind, step)
    jacobians = np.asarray(jacobians, float).reshape(-1, 2, 2)
    matrices = np.linalg.inv(jacobians) @ np.linalg.inv(shear_matrix(g1, g2))[None] @ jacobians
    coords = np.arange(n, dtype=float) - n // 2
    y, x = np.meshgrid(coords, coords, indexing='ij')
    out = np.empty_like(masks)
    for b, (mask, a) in enumerate(zip(masks, matrices)):
        if not mask.any():
            out[b] = 0.0
            continue
        xs = a[0, 0] * x + a[0, 1] * y + n // 2
        ys = a[1, 0] * x + a[1, 1] * y + n // 2
        out[b] = ndimage.map_coordinates(mask, [ys, xs], order=1, mode='nearest')
    return out
