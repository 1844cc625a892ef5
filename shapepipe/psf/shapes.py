"""Adaptive-moment (HSM) shapes of stamps, with named failure flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import galsim
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

FLAG_HSM_FAILED = 1
FLAG_NO_DATA = 2
MASKED_VALUE = -1e29   # SExtractor writes -1e30 in VIGNET pixels off the image


def hsm_shapes(
    stamps: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(g1, g2, sigma [pixels], flag) for each stamp; masked pixels get weight 0."""
    n = len(stamps)
    g1, g2, sigma = np.full(n, -10.0), np.full(n, -10.0), np.full(n, -10.0)
    flags = np.zeros(n, np.int32)
    for i, stamp in enumerate(stamps):
        stamp = np.asarray(stamp, float)
        good = np.isfinite(stamp) & (stamp > MASKED_VALUE)
        if good.sum() < 10:
            flags[i] = FLAG_NO_DATA
            continue
        image = galsim.Image(np.where(good, stamp, 0.0))
        weight = galsim.Image(good.astype(np.int32))
        try:
            moments = galsim.hsm.FindAdaptiveMom(image, weight=weight, strict=True)
        except galsim.GalSimError:
            flags[i] = FLAG_HSM_FAILED
            continue
        g1[i], g2[i] = moments.observed_shape.g1, moments.observed_shape.g2
        sigma[i] = moments.moments_sigma
    return g1, g2, sigma, flags


def psf_store_entries(stamps: ArrayLike) -> list[dict[str, Any]]:
    """Values of a MULTI-EPOCH PSF store for PSF stamps ``(n, ny, nx)``: per stamp
    ``{'VIGNET': float32 stamp, 'SHAPES': {E1_PSF_HSM, E2_PSF_HSM, SIGMA_PSF_HSM,
    FLAG_PSF_HSM}}``."""
    stamps = np.asarray(stamps, np.float32)
    e1, e2, sigma, flag = hsm_shapes(stamps)
    return [{'VIGNET': stamps[k],
             'SHAPES': {'E1_PSF_HSM': float(e1[k]), 'E2_PSF_HSM': float(e2[k]),
                        'SIGMA_PSF_HSM': float(sigma[k]), 'FLAG_PSF_HSM': int(flag[k])}}
            for k in range(len(stamps))]
