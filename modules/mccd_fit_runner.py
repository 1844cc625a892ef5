"""Fit one MCCD PSF model per exposure over its focal plane."""

import os

from shapepipe.psf.mccd.fit import fit_exposure
from shapepipe.psf.mccd.settings import read_settings
from shapepipe.pipeline.rng import make_rng
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.psf.runner_support import MCCD_OPTIONS, check_mode

@module_runner(
    version='1.1',
    input_module=['mccd_preprocessing_runner'],
    file_pattern=['train_star_selection'],
    file_ext=['.fits'],
    numbering_scheme='-0000000',
    outputs=[Output('model', 'fitted_model{num}.npz', 'npz', 'The exposure\'s MCCD model')],
    depends=['numpy', 'mccd', 'galsim'],
    options=MCCD_OPTIONS,
)
def mccd_fit_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                    w_log):
    """``fitted_model<num>.npz`` from ``train_star_selection<num>.fits``."""
    opts = config.module_options(module_config_sec)
    check_mode(opts, 'FIT', config, module_config_sec)
    values = read_settings(opts['CONFIG_PATH'])
    if opts['VERBOSE']:
        w_log.info('MCCD settings: %s', values)
    out = os.path.join(run_dirs['output'], f'fitted_model{file_number_string}.npz')
    model = fit_exposure(input_file_list[0], out, values, log=w_log,
                         rng=make_rng(config.run_seed, 'mccd', file_number_string))
    return f'MCCD model of {len(model.ccds)} CCDs -> {out}', ''
