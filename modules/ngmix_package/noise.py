"""Noise and random streams that twin (+g/-g) fields share.

Metacalibration adds noise to a stamp twice: masked pixels are replaced by
noise drawn from the weight map, and the noise symmetrisation ("fixnoise")
uses a pure-noise image. For a calibration on twin fields (the same galaxies
and pixel noise sheared by +g and -g) to cancel shape and pixel noise, these
added noises must be the same in both fields too. The object's Source
Extractor ``NUMBER`` is no key for that: detection order differs between the
fields (92% of objects renumbered on a CFIS-like twin field).

Here the added noise is a fixed random field over the pixels of every
exposure CCD: the value at CCD pixel (x, y) of epoch ``<exposure>-<ccd>`` is
a function of the run seed, the epoch name, (x, y) and the stream (masked
pixels or fixnoise), computed with a counter-based hash (splitmix64 and
Box-Muller). Like the real pixel noise it is tied to the pixel, not to the
object, so twin fields (same exposures and WCS) get identical added noise
whatever the detection order and wherever each stamp is cut. Per-object
random streams (retry guesses) are seeded from the run seed and the
object's sky position quantised to :data:`POSITION_QUANTUM` arcsec.
"""

from __future__ import annotations

import zlib

import numpy as np


POSITION_QUANTUM = 1.0      # arcsec: grid of the sky positions that seed per-object streams
STREAM_MASKED = 0           # noise replacing masked pixels
STREAM_FIXNOISE = 1         # noise image of the noise symmetrisation

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z):
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def epoch_key(name: str) -> int:
    """32-bit key of an epoch name such as ``'2113737-13'``."""
    return zlib.crc32(str(name).encode())


def pixel_normals(run_seed: int, epoch_keys: np.ndarray, origins: np.ndarray, size: int,
                  stream: int) -> np.ndarray:
    """Standard normal deviates tied to CCD pixels.

    Parameters
    ----------
    run_seed : int
    epoch_keys : array of int (n,)
        :func:`epoch_key` of each stamp's epoch.
    origins : array of int (n, 2)
        CCD pixel (x, y) of each stamp's element ``[0, 0]``.
    size : int
        Stamp size N.
    stream : int
        :data:`STREAM_MASKED` or :data:`STREAM_FIXNOISE`.

    Returns
    -------
    ndarray (n, N, N)
        Element ``[s, j, i]`` is the deviate of CCD pixel
        ``origins[s] + (i, j)`` of epoch ``epoch_keys[s]``; the same pixel
        always gets the same value.
    """
    with np.errstate(over='ignore'):
        keys = np.asarray(epoch_keys, dtype=np.uint64)
        origins = np.asarray(origins, dtype=np.int64)
        base = _mix((np.uint64(int(run_seed) & 0xFFFFFFFFFFFFFFFF) * _GOLDEN)
                    ^ _mix(keys * _GOLDEN + np.uint64(stream)))
        offsets = np.arange(size, dtype=np.int64)
        x = (origins[:, 0, None, None] + offsets[None, None, :]) & 0xFFFFFFFF
        y = (origins[:, 1, None, None] + offsets[None, :, None]) & 0xFFFFFFFF
        cell = (y.astype(np.uint64) << np.uint64(32)) | x.astype(np.uint64)
        h1 = _mix(base[:, None, None] ^ _mix(cell))
        h2 = _mix(h1 + _GOLDEN)
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0 ** -53     # (0, 1]
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def position_rng(run_seed: int, ra: float, dec: float, *keys: str | int) -> np.random.Generator:
    """The per-object generator of an object at (ra, dec) degrees.

    The position is rounded to a :data:`POSITION_QUANTUM` arcsec grid, so the
    same object detected in twin fields (positions differing by far less
    than the grid step) gets the same stream except within ~1e-3 arcsec of a
    grid line. ``keys`` (e.g. a module name) are appended.
    """
    cos_dec = np.cos(np.radians(dec))
    ix = int(np.floor(((ra % 360.0) * cos_dec * 3600.0) / POSITION_QUANTUM))
    iy = int(np.floor((dec + 90.0) * 3600.0 / POSITION_QUANTUM))
    entropy = [int(run_seed) & 0xFFFFFFFF] + [zlib.crc32(str(key).encode()) for key in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy + [ix, iy]))
