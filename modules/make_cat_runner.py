"""Assemble the final catalogue of each tile (detections, spread model, shapes)."""

import os

from shapepipe.errors import ConfigError
from shapepipe.modules.make_cat_package.final_catalog import make_final_catalog
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module=['sextractor_runner', 'spread_model_runner', 'ngmix_runner'],
    inputs=[Input('catalog', 'tile_sexcat', '.fits'),
            Input('spread_model', 'sexcat_sm', '.fits', optional=True, default=True),
            Input('shapes', 'ngmix', '.fits', optional=True, default=True),
            Input('psf', 'galaxy_psf', '.sqlite', optional=True, doc='for SAVE_PSF_DATA')],
    outputs=[Output('final', 'final_cat{num}.fits', 'fits')],
    depends=['numpy', 'astropy'],
    numbering_scheme='-000-000',
    options=[
        Option('SM_DO_CLASSIFICATION', 'bool', True, 'Add SPREAD_CLASS'),
        Option('SM_STAR_THRESH', 'float', 0.003, 'Star if |SPREAD_MODEL + 2 err| < this'),
        Option('SM_STAR_STRESH', 'float', None, 'Older misspelling of SM_STAR_THRESH'),
        Option('SM_GAL_THRESH', 'float', 0.01, 'Galaxy if SPREAD_MODEL + 2 err > this'),
        Option('SAVE_PSF_DATA', 'bool', False, 'Per-epoch PSF columns PSF_ELL_i, PSF_FWHM_i, '
                                               'PSF_FLAG_i (needs the galaxy_psf store input)'),
        Option('TILE_LIST', 'str', '', 'Unused; accepted for ShapePipe configs'),
    ],
)
def make_cat_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                    w_log):
    """Write final_cat{num}.fits: SExtractor columns, spread model class and metacal shapes."""
    opts = config.module_options(module_config_sec)
    inputs = input_file_list.inputs
    psf_store = inputs.get('psf')
    if opts['SAVE_PSF_DATA'] and psf_store is None:
        raise ConfigError(f'{config.where(module_config_sec)}SAVE_PSF_DATA = True needs the '
                          f'multi-epoch PSF store: add galaxy_psf (.sqlite, '
                          f'last:psfex_interp_runner) to FILE_PATTERN and INPUT_DIR')
    catalog, sm_path, ngmix_path = inputs['catalog'], inputs.get('spread_model'), inputs.get(
        'shapes')
    star = opts['SM_STAR_STRESH'] if opts['SM_STAR_STRESH'] is not None else opts['SM_STAR_THRESH']
    tile_id = file_number_string.lstrip('-').replace('-', '.')
    out = os.path.join(run_dirs['output'], f'final_cat{file_number_string}.fits')
    n = make_final_catalog(out, catalog, tile_id, sm_path if opts['SM_DO_CLASSIFICATION'] else
                           None, ngmix_path, star, opts['SM_GAL_THRESH'],
                           psf_store if opts['SAVE_PSF_DATA'] else None,
                           allow_pickle=config.pipeline('FILE', 'ALLOW_PICKLE'))
    if ngmix_path is None:
        w_log.warning('no ngmix catalogue among the inputs: shape columns hold defaults and '
                      'the not-measured flag')
    return f'{n} objects -> {out}', ''
