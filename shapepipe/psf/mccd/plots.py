"""Star selection and histograms of a merged PSF validation catalogue."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from astropy.table import Table


def select_stars(
    data: Table, min_r2: float = 0.0, max_r2: float = np.inf, max_dr2: float = np.inf,
    remove_outliers: bool = False,
) -> Table:
    """Rows with valid star and model shapes, ``min_r2 < R2_star < max_r2`` and
    ``|R2_star - R2_psf| / R2_star < max_dr2`` (R2 = 2 sigma^2); with
    ``remove_outliers`` also ellipticity residuals within 5 sigma."""
    good = (data['FLAG_PSF_HSM'] == 0) & (data['FLAG_STAR_HSM'] == 0)
    r2_star = 2 * np.asarray(data['SIGMA_STAR_HSM'], float) ** 2
    r2_psf = 2 * np.asarray(data['SIGMA_PSF_HSM'], float) ** 2
    with np.errstate(invalid='ignore', divide='ignore'):
        good &= (r2_star > min_r2) & (r2_star < max_r2)
        good &= np.abs(r2_star - r2_psf) / r2_star < max_dr2
    if remove_outliers and good.sum() > 2:
        for k in (1, 2):
            res = np.asarray(data[f'E{k}_STAR_HSM'] - data[f'E{k}_PSF_HSM'], float)
            mean, std = res[good].mean(), res[good].std()
            good &= np.abs(res - mean) <= 5 * std
    return data[good]


def histograms(stars: Table, output_dir: str, psf_name: str = 'mccd') -> str:
    """``psf_validation_histograms.png``: star and model e1, e2, R2 and their residuals."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 7))
    FigureCanvasAgg(figure)
    r2_star = 2 * np.asarray(stars['SIGMA_STAR_HSM'], float) ** 2
    r2_psf = 2 * np.asarray(stars['SIGMA_PSF_HSM'], float) ** 2
    quantities = [('e1', stars['E1_STAR_HSM'], stars['E1_PSF_HSM']),
                  ('e2', stars['E2_STAR_HSM'], stars['E2_PSF_HSM']),
                  ('R2 [pixel$^2$]', r2_star, r2_psf)]
    for k, (label, star, model) in enumerate(quantities):
        star, model = np.asarray(star, float), np.asarray(model, float)
        ax = figure.add_subplot(2, 3, k + 1)
        ax.hist([star, model], bins=30, label=['stars', psf_name], histtype='step')
        ax.set_xlabel(label)
        ax.legend(fontsize=8)
        ax = figure.add_subplot(2, 3, k + 4)
        residual = star - model
        ax.hist(residual, bins=30, histtype='step')
        ax.set_xlabel(f'star - model {label}: mean {residual.mean():.2e}, rms '
                      f'{residual.std():.2e}', fontsize=8)
    path = os.path.join(output_dir, 'psf_validation_histograms.png')
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80, format='png')
    return path
