"""Fit one Piff PSF model per exposure over its focal plane (and validate it)."""

import os

from shapepipe.psf.mccd.fit import validate_exposure
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.psf.piff.fit import fit_exposure
from shapepipe.psf.piff.model import read_piff_config
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.0',
    input_module=['mccd_preprocessing_runner'],
    file_pattern=['train_star_selection', 'test_star_selection'],
    file_ext=['.fits', '.fits'],
    numbering_scheme='-0000000',
    outputs=[Output('model', 'piff_model{num}.piff', 'piff', 'The exposure\'s Piff model'),
             Output('validation', 'validation_psf{num}.fits', 'fits', when='MODE=FIT_VALIDATION')],
    depends=['numpy', 'piff', 'galsim', 'yaml'],
    options=[
        Option('PIFF_CONFIG', 'str', doc='Piff YAML file; its "psf" field sets model and '
               'interpolation (example/GOLD/piff.yaml)'),
        Option('MODE', 'str', 'FIT_VALIDATION', 'FIT (first input only) or FIT_VALIDATION '
               '(also validation_psf<num>.fits from the second input)',
               choices=('FIT', 'FIT_VALIDATION')),
        Option('MIN_N_STARS', 'int', 20, 'Minimum usable stars on a CCD to use it in the fit'),
    ],
)
def piff_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                w_log):
    """``piff_model<num>.piff`` (and ``validation_psf<num>.fits``)."""
    opts = config.module_options(module_config_sec)
    psf_config = read_piff_config(opts['PIFF_CONFIG'])
    model_path = os.path.join(run_dirs['output'], f'piff_model{file_number_string}.piff')
    model = fit_exposure(input_file_list[0], model_path, psf_config, opts['MIN_N_STARS'],
                         log=w_log)
    message = f'Piff model of {len(model.ccds)} CCDs -> {model_path}'
    if opts['MODE'] == 'FIT_VALIDATION':
        out = os.path.join(run_dirs['output'], f'validation_psf{file_number_string}.fits')
        n = validate_exposure(model, input_file_list[1], out, log=w_log)
        message += f'; {n} validation stars -> {out}'
    return message, ''
