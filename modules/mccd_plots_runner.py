"""Plots of a merged PSF validation catalogue: focal-plane mean shapes,
histograms and rho statistics (any PSF model: psfex, mccd, piff)."""

import os

import numpy as np
from astropy.io import fits

from shapepipe.commands.mean_shapes import make_plots
from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.psf.mccd.plots import histograms, select_stars
from shapepipe.psf.mccd.rho_stats import rho_statistics, write_rho_statistics
from shapepipe.modules.module_decorator import module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module=['merge_starcat_runner'],
    file_pattern=['full_starcat'],
    file_ext=['.fits'],
    numbering_scheme='-0000000',
    depends=['numpy', 'astropy', 'matplotlib', 'treecorr'],
    run_method='serial',
    options=[
        Option('HDU', 'int', 1, 'HDU of the star table in the merged catalogue'),
        Option('PSF', 'str', 'mccd', 'PSF model of the catalogue (labels only)',
               choices=('psfex', 'mccd', 'piff', 'setools')),
        Option('MAX_E', 'float', 0.05, 'Colour range of ellipticity maps'),
        Option('MAX_DE', 'float', 0.005, 'Colour range of residual maps'),
        Option('MIN_R2', 'float', 0.0, 'Keep stars with R2 = 2 sigma^2 above this [pixel^2]'),
        Option('MAX_R2', 'float', float('inf'), 'Keep stars with R2 below this [pixel^2]'),
        Option('MAX_DR2', 'float', float('inf'), 'Keep stars with |R2 residual| / R2 below this'),
        Option('X_GRID', 'int', 20, 'Focal-plane bins along x'),
        Option('Y_GRID', 'int', 40, 'Accepted (ShapePipe key); bins along y follow the aspect'),
        Option('REMOVE_OUTLIERS', 'bool', False, 'Drop stars with |e residual| > 5 sigma'),
        Option('PLOT_MEANSHAPES', 'bool', True, 'Focal-plane maps and whiskers'),
        Option('PLOT_HISTOGRAMS', 'bool', True, 'Histograms of shapes and residuals'),
        Option('PLOT_RHO_STATS', 'bool', True, 'Rho statistics table and plot (treecorr)'),
        Option('RHO_STATS_STYLE', 'str', 'HSC', 'Panels of the rho plot', choices=('HSC', 'DES')),
        Option('RHO_STATS_YLIM_L', 'float_list', [], 'y range of the left rho panel'),
        Option('RHO_STATS_YLIM_R', 'float_list', [], 'y range of the right rho panel'),
    ],
)
def mccd_plots_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                      w_log):
    """PNG maps, histograms, ``rho_stats.fits`` and ``rho_stats.png``."""
    opts = config.module_options(module_config_sec)
    path = input_file_list[0][0]
    output = run_dirs['output']
    try:
        data = fits.getdata(path, opts['HDU'])
    except (OSError, IndexError, KeyError) as error:
        raise InputError(f'{path}: cannot read HDU {opts["HDU"]} ({error}); fix HDU',
                         path=path) from None
    stars = select_stars(data, opts['MIN_R2'], opts['MAX_R2'], opts['MAX_DR2'],
                         opts['REMOVE_OUTLIERS'])
    if not len(stars):
        raise InputError(f'{path}: no star with valid shapes passes the selection', path=path)
    selected = os.path.join(output, 'full_starcat_selected.fits')
    with atomic_path(selected) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(stars)]).writeto(tmp)
    written = []
    if opts['PLOT_MEANSHAPES']:
        written += make_plots(selected, output, opts['X_GRID'], opts['MAX_E'], opts['MAX_DE'])
    if opts['PLOT_HISTOGRAMS']:
        written.append(histograms(stars, output, opts['PSF']))
    if opts['PLOT_RHO_STATS']:
        table = rho_statistics(stars)
        written += write_rho_statistics(table, output, opts['RHO_STATS_STYLE'],
                                        opts['RHO_STATS_YLIM_L'] or None,
                                        opts['RHO_STATS_YLIM_R'] or None)
    return f'{len(stars)} of {len(data)} stars: ' + ', '.join(written), ''
