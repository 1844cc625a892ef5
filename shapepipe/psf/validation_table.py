"""The PSF validation catalogue shared by every PSF model (PSFEx, MCCD, Piff).

One row per validation star: position, model and star HSM shapes, the
model's accepted-star count and chi2; ``merge_starcat_runner``,
``MeanShapes``, ``mccd_plots_runner`` and ``benchmarks/bench_psf_model.py``
read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from shapepipe.psf.shapes import hsm_shapes

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import ArrayLike


def classic_table(objects: Table, stamps: np.ndarray, get_shapes: bool) -> Table:
    """The CLASSIC ``galaxy_psf`` table: NUMBER (1..n when the catalogue has none),
    the PSF stamps as VIGNET and, with ``get_shapes``, their HSM shapes."""
    numbers = objects['NUMBER'] if 'NUMBER' in objects.colnames else np.arange(len(stamps)) + 1
    out = Table({'NUMBER': numbers, 'VIGNET': stamps.astype(np.float32)})
    if get_shapes:
        out['E1_PSF_HSM'], out['E2_PSF_HSM'], out['SIGMA_PSF_HSM'], out['FLAG_PSF_HSM'] = (
            hsm_shapes(stamps))
    return out


def validation_table(
    number: ArrayLike, x: ArrayLike, y: ArrayLike, models: ArrayLike, vignets: ArrayLike,
    extra: Mapping[str, ArrayLike] | None = None, accepted: ArrayLike = 0,
    chi2: ArrayLike = np.nan,
) -> Table:
    """The table for stars at local pixel positions ``x``, ``y``.

    ``models`` and ``vignets`` are ``(n, ny, nx)`` stamps of the model and
    the stars; ``extra`` maps RA, DEC, MAG, SNR (and any further column) to
    arrays, missing ones are NaN.
    """
    extra = extra or {}
    n = len(x)
    e1_psf, e2_psf, sig_psf, flag_psf = hsm_shapes(models)
    e1_star, e2_star, sig_star, flag_star = hsm_shapes(vignets)
    out = Table()
    out['NUMBER'] = np.asarray(number)
    out['X'], out['Y'] = np.asarray(x, float), np.asarray(y, float)
    for name in ('RA', 'DEC', 'MAG', 'SNR'):
        out[name] = np.asarray(extra.get(name, np.full(n, np.nan)), float)
    out['E1_PSF_HSM'], out['E2_PSF_HSM'] = e1_psf, e2_psf
    out['SIGMA_PSF_HSM'], out['FLAG_PSF_HSM'] = sig_psf, flag_psf
    out['E1_STAR_HSM'], out['E2_STAR_HSM'] = e1_star, e2_star
    out['SIGMA_STAR_HSM'], out['FLAG_STAR_HSM'] = sig_star, flag_star
    out['ACCEPTED'] = np.broadcast_to(np.asarray(accepted), (n,)).copy()
    out['CHI2_PSF'] = np.broadcast_to(np.asarray(chi2, float), (n,)).copy()
    for name, values in extra.items():
        if name not in out.colnames:
            out[name] = values
    return out
