"""Merge the PSF validation catalogues of all CCDs into full_starcat-0000000.fits."""

import os

from shapepipe.modules.merge_starcat_package.merge_starcat import (
    merge_setools_catalogs, merge_star_catalogs,
)
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='psfex_interp_runner',
    inputs=[Input('stars', 'validation_psf', '.fits')],
    depends=['numpy', 'astropy'],
    numbering_scheme='-0000000-0',
    run_method='serial',
    options=[Option('OUTPUT_PATH', 'str', '', 'Output directory (default: the module output)'),
             Option('PSF_MODEL', 'str', 'psfex', 'What the inputs are: psfex, mccd or piff '
                    'validation catalogues (one format, merged column by column), setools star '
                    'selections (positions, moments, flags)', choices=('psfex', 'mccd', 'piff', 'setools')),
             Option('CONFIG_PATH', 'str', '', 'Accepted (ShapePipe MCCD configs); unused'),
             Option('MODE', 'str', '', 'Accepted (ShapePipe MCCD configs); unused'),
             Option('VERBOSE', 'bool', False, 'Accepted (ShapePipe MCCD configs); unused')],
)
def merge_starcat_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                         w_log):
    """Merge PSF validation star catalogues, with exposure and CCD numbers."""
    opts = config.module_options(module_config_sec)
    output_dir = opts['OUTPUT_PATH'] or run_dirs['output']
    os.makedirs(output_dir, exist_ok=True)
    out = os.path.join(output_dir, 'full_starcat-0000000.fits')
    merge = merge_setools_catalogs if opts['PSF_MODEL'] == 'setools' else merge_star_catalogs
    n = merge(input_file_list[0], out)
    return f'{n} stars from {len(input_file_list[0])} CCDs -> {out}', ''
