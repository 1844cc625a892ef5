"""Rho statistics of a PSF model (Rowe 2010; Jarvis et al. 2016, MNRAS 460, 2245).

From the validation stars: ``e`` the model ellipticity, ``q = e_star - e``
the residual, ``w = e_star (T_star - T) / T_star`` the size residual weighted
by the star ellipticity (``T = 2 sigma^2``). rho1 = <q q>, rho2 = <e q>,
rho3 = <w w>, rho4 = <q w>, rho5 = <e w> (the xi+ parts, treecorr).
``HSC`` and ``DES`` plot styles differ only in the panels (ShapePipe's key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Separation bins [arcmin].
MIN_SEP, MAX_SEP, N_BINS = 0.2, 100.0, 12

PAIRS = {'rho1': ('q', 'q'), 'rho2': ('e', 'q'), 'rho3': ('w', 'w'), 'rho4': ('q', 'w'),
         'rho5': ('e', 'w')}


def read_validation_stars(path: str, hdu: int | str = 1) -> fits.FITS_rec:
    """The merged validation catalogue's stars with valid shapes of both star and model."""
    try:
        data = fits.getdata(path, hdu)
    except (OSError, IndexError, KeyError) as error:
        raise InputError(f'{path}: cannot read HDU {hdu} ({error}); fix HDU', path=path) from None
    good = (data['FLAG_PSF_HSM'] == 0) & (data['FLAG_STAR_HSM'] == 0)
    for name in ('RA', 'DEC', 'E1_PSF_HSM', 'E2_PSF_HSM', 'E1_STAR_HSM', 'E2_STAR_HSM',
                 'SIGMA_PSF_HSM', 'SIGMA_STAR_HSM'):
        good &= np.isfinite(np.asarray(data[name], float))
    return data[good]


def rho_statistics(stars: fits.FITS_rec | Table) -> Table:
    """Table of separation [arcmin] and rho1..rho5 (xi+) with their sigmas."""
    import treecorr
    ra, dec = np.asarray(stars['RA'], float), np.asarray(stars['DEC'], float)
    e_star = np.stack([stars['E1_STAR_HSM'], stars['E2_STAR_HSM']]).astype(float)
    e_psf = np.stack([stars['E1_PSF_HSM'], stars['E2_PSF_HSM']]).astype(float)
    t_star = 2 * np.asarray(stars['SIGMA_STAR_HSM'], float) ** 2
    t_psf = 2 * np.asarray(stars['SIGMA_PSF_HSM'], float) ** 2
    fields = {'e': e_psf, 'q': e_star - e_psf, 'w': e_star * (t_star - t_psf) / t_star}
    catalogs = {name: treecorr.Catalog(ra=ra, dec=dec, g1=value[0], g2=value[1],
                                       ra_units='deg', dec_units='deg')
                for name, value in fields.items()}
    out = Table()
    for name, (a, b) in PAIRS.items():
        corr = treecorr.GGCorrelation(min_sep=MIN_SEP, max_sep=MAX_SEP, nbins=N_BINS,
                                      sep_units='arcmin')
        corr.process(catalogs[a], catalogs[b])
        if 'THETA' not in out.colnames:
            out['THETA'] = np.exp(corr.meanlogr)
            out['NPAIRS'] = corr.npairs
        out[name.upper()] = corr.xip
        out[f'SIGMA_{name.upper()}'] = np.sqrt(corr.varxip)
    return out


def write_rho_statistics(
    table: Table, output_dir: str, style: str = 'HSC',
    ylim_l: Sequence[float] | None = None, ylim_r: Sequence[float] | None = None,
) -> list[str]:
    """``rho_stats.fits`` and ``rho_stats.png``; return their paths."""
    import os
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = os.path.join(output_dir, 'rho_stats.fits')
    with atomic_path(path) as tmp:
        table.write(tmp, format='fits')
    figure = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(figure)
    panels = ((('RHO1', 'RHO3', 'RHO4'), ylim_l), (('RHO2', 'RHO5'), ylim_r))
    if style == 'DES':
        panels = ((('RHO1', 'RHO2', 'RHO5'), ylim_l), (('RHO3', 'RHO4'), ylim_r))
    used = table['NPAIRS'] > 0
    for k, (names, ylim) in enumerate(panels):
        ax = figure.add_subplot(1, 2, k + 1)
        for name in names:
            theta, value, sigma = (table['THETA'][used], table[name][used],
                                   table[f'SIGMA_{name}'][used])
            ax.errorbar(theta, np.abs(value), yerr=sigma, marker='o' if k else 's', ls='-',
                        label=rf'$|\rho_{name[-1]}|$', capsize=2)
        ax.set_xscale('log')
        ax.set_yscale('log')
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel(r'$\theta$ [arcmin]')
        ax.legend()
    png = os.path.join(output_dir, 'rho_stats.png')
    with atomic_path(png) as tmp:
        figure.savefig(tmp, dpi=80, format='png')
    return [path, png]
