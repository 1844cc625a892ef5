"""Validate fitted MCCD models on the test stars of their exposure."""

import os

from shapepipe.psf.mccd.fit import validate_exposure
from shapepipe.psf.mccd.model import MCCDModel
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.psf.runner_support import MCCD_OPTIONS, check_mode


@module_runner(
    version='1.1',
    input_module=['mccd_fit_runner', 'mccd_preprocessing_runner'],
    file_pattern=['fitted_model', 'test_star_selection'],
    file_ext=['.npz', '.fits'],
    numbering_scheme='-0000000',
    outputs=[Output('validation', 'validation_psf{num}.fits', 'fits')],
    depends=['numpy', 'mccd', 'galsim'],
    options=MCCD_OPTIONS,
)
def mccd_val_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                    w_log):
    """``validation_psf<num>.fits`` from a model and the exposure's test stars."""
    opts = config.module_options(module_config_sec)
    check_mode(opts, 'VALIDATION', config, module_config_sec)
    out = os.path.join(run_dirs['output'], f'validation_psf{file_number_string}.fits')
    n = validate_exposure(MCCDModel(input_file_list[0]), input_file_list[1], out, log=w_log)
    return f'{n} validation stars -> {out}', ''
