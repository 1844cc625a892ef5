"""Cutting postage stamps: vectorised, padded at image edges (never wrapped)."""

import numpy as np

MISSING_VALUE = -1e30          # float stamps: pixel off the image (as SExtractor's VIGNET)
FLAG_OFF_IMAGE = 1 << 14       # integer (flag) stamps: pixel off the image


def cut_stamps(data, x, y, size):
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
    padded = np.pad(np.asarray(data, dtype=dtype), half + 1, constant_values=pad_value)
    ix = np.floor(np.asarray(x, float) - 0.5).astype(int) + half + 1   # 0-indexed in padded
    iy = np.floor(np.asarray(y, float) - 0.5).astype(int) + half + 1
    ny, nx = padded.shape
    offsets = np.arange(-half, half + 1)
    stamps = np.full((len(ix), size, size), pad_value, dtype=dtype)
    ok = (ix - half >= 0) & (ix + half < nx) & (iy - half >= 0) & (iy + half < ny)
    if ok.any():
        rows = iy[ok, None, None] + offsets[None, :, None]
        cols = ix[ok, None, None] + offsets[None, None, :]
        stamps[ok] = padded[rows, cols]
    return stamps
