"""Fit one MCCD PSF model per exposure and validate it on the test stars."""

import os

from shapepipe.psf.mccd.fit import fit_exposure, validate_exposure
from shapepipe.psf.mccd.settings import read_settings
from shapepipe.pipeline.rng import make_rng
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.psf.runner_support import MCCD_OPTIONS, check_mode


@module_runner(
    version='1.1',
    input_module=['mccd_preprocessing_runner'],
    file_pattern=['train_star_selection', 'test_star_selection'],
    file_ext=['.fits', '.fits'],
    numbering_scheme='-0000000',
    outputs=[Output('model', 'fitted_model{num}.npz', 'npz', 'The exposure\'s MCCD model'),
             Output('validation', 'validation_psf{num}.fits', 'fits')],
    depends=['numpy', 'mccd', 'galsim'],
    options=MCCD_OPTIONS,
)
def mccd_fit_val_runner(input_file_list, run_dirs, file_number_string, config,
                        module_config_sec, w_log):
    """``fitted_model<num>.npz`` and ``validation_psf<num>.fits``."""
    opts = config.module_options(module_config_sec)
    check_mode(opts, 'FIT_VALIDATION', config, module_config_sec)
    values = read_settings(opts['CONFIG_PATH'])
    model_path = os.path.join(run_dirs['output'], f'fitted_model{file_number_string}.npz')
    model = fit_exposure(input_file_list[0], model_path, values, log=w_log,
                         rng=make_rng(config.run_seed, 'mccd', file_number_string))
    out = os.path.join(run_dirs['output'], f'validation_psf{file_number_string}.fits')
    n = validate_exposure(model, input_file_list[1], out, log=w_log)
    return f'MCCD model of {len(model.ccds)} CCDs -> {model_path}; {n} validation stars -> {out}', ''
