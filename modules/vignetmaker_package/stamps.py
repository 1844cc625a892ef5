"""Cutting postage stamps: vectorised, padded at image edges (never wrapped)."""

from __future__ import annotations

from typing import TYPE_CHECKING
import numpy as np

from shapepipe.errors import InputError

if TYPE_CHECKING:
    import os

    from astropy.io import fits
    from numpy.typing import ArrayLike

MISSING_VALUE = -1e30          # float stamps: pixel off the image (as SExtractor's VIGNET)
FLAG_OFF_IMAGE = 1 << 14       # integer (flag) stamps: pixel off the image


def cut_stamps(data: np.ndarray, x: ArrayLike, y: ArrayLike, size: int) -> np.ndarray:
    """Stamps of ``size`` x ``size`` pixels centred on 1-indexed positions.

    The stamp centre is the pixel containing (x, y). Pixels off the image get
    :data:`MISSING_VALUE` (float data) or :data:`FLAG_OFF_IMAGE` (integer data).

    Returns
    -------
    ndarray, shape (n, size, size)
    """
    if size % 2 == 0:
        raise ValueError(f'STAMP_SIZE must be odd, not {size}')
    half = size // 2
    integer = np.issubdtype(data.dtype, np.integer)
    pad_value = FLAG_OFF_IMAGE if integer else MISSING_VALUE
    dtype = np.int32 if integer else np.float32
    ny, nx = data.shape
    ix = np.floor(np.asarray(x, float) - 0.5).astype(int)      # 0-indexed central pixel
    iy = np.floor(np.asarray(y, float) - 0.5).astype(int)
    offsets = np.arange(-half, half + 1)
    stamps = np.full((len(ix), size, size), pad_value, dtype=dtype)
    inside = (ix - half >= 0) & (ix + half < nx) & (iy - half >= 0) & (iy + half < ny)
    if inside.any():
        rows = iy[inside, None, None] + offsets[None, :, None]
        cols = ix[inside, None, None] + offsets[None, None, :]
        stamps[inside] = data[rows, cols]
    for k in np.flatnonzero(~inside):            # at an edge: copy the overlap only
        x0, y0 = ix[k] - half, iy[k] - half
        xa, xb = max(x0, 0), min(x0 + size, nx)
        ya, yb = max(y0, 0), min(y0 + size, ny)
        if xa < xb and ya < yb:
            stamps[k, ya - y0:yb - y0, xa - x0:xb - x0] = data[ya:yb, xa:xb]
    return stamps


def first_image_hdu(hdul: fits.HDUList,
                    path: str | os.PathLike) -> fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU:
    """The first HDU of ``hdul`` holding image data (InputError naming ``path`` if none)."""
    hdu = next((h for h in hdul if h.is_image and h.data is not None), None)
    if hdu is None:
        raise InputError(f'{path} holds no image', path=path)
    return hdu
