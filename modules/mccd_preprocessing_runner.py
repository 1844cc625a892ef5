"""Gather the star catalogues of all CCDs of each exposure into MCCD input files."""

import os

from shapepipe.errors import InputError, ModuleError
from shapepipe.psf.mccd.preprocessing import group_by_exposure, preprocess_exposure
from shapepipe.psf.mccd.settings import read_settings
from shapepipe.modules.module_decorator import module_runner
from shapepipe.pipeline.options import Option

#: Per MODE: (input pattern position, output name, minimum stars per CCD or None for MIN_N_STARS).
OUTPUTS = {
    'FIT': [(0, 'train_star_selection', None)],
    'FIT_VALIDATION': [(0, 'train_star_selection', None), (1, 'test_star_selection', 1)],
    'VALIDATION': [(0, 'test_star_selection', 1)],
}


@module_runner(
    version='1.1',
    input_module=['setools_runner'],
    file_pattern=['star_split_ratio_80', 'star_split_ratio_20'],
    file_ext=['.fits', '.fits'],
    depends=['numpy', 'mccd', 'galsim', 'astropy'],
    run_method='serial',
    options=[
        Option('CONFIG_PATH', 'str', doc='MCCD config file (config_MCCD.ini)'),
        Option('MODE', 'str', 'FIT_VALIDATION', 'FIT (training stars), FIT_VALIDATION '
               '(training and test stars) or VALIDATION (test stars)',
               choices=('FIT', 'FIT_VALIDATION', 'VALIDATION')),
        Option('VERBOSE', 'bool', False, 'Log every CCD'),
    ],
)
def mccd_preprocessing_runner(input_file_list, run_dirs, file_number_string, config,
                              module_config_sec, w_log):
    """Write ``train_star_selection-<exp>.fits`` (and/or ``test_...``) per exposure."""
    opts = config.module_options(module_config_sec)
    values = read_settings(opts['CONFIG_PATH'])
    outputs = OUTPUTS[opts['MODE']]
    if opts['MODE'] == 'FIT_VALIDATION' and len(input_file_list) < 2:
        outputs = outputs[:1]
    lines, failed = [], []
    for position, name, min_stars in outputs:
        groups = group_by_exposure(input_file_list[position], values['INPUT_SEPARATOR'])
        for exposure, ccd_paths in groups.items():
            out = os.path.join(run_dirs['output'],
                               f'{name}{values["INPUT_SEPARATOR"]}{exposure}.fits')
            try:
                n, status = preprocess_exposure(
                    ccd_paths, out, min_stars or values['MIN_N_STARS'],
                    values['OUTLIER_STD_MAX'], log=w_log)
            except InputError as error:
                w_log.error('%s', error)
                failed.append(f'{name} {exposure}')
                continue
            left_out = [int(row['CCD']) for row in status if row['N_USED'] == 0]
            if opts['VERBOSE']:
                w_log.info('%s: %d stars from %d CCDs', out, n, len(status) - len(left_out))
            lines.append(f'{name} {exposure}: {n} stars, {len(status) - len(left_out)} CCDs'
                         + (f' (left out: {left_out})' if left_out else ''))
    if not lines:
        raise ModuleError(f'no exposure has enough stars for MCCD ({"; ".join(failed)})')
    if failed:
        lines.append(f'failed (too few stars): {", ".join(failed)}')
    return '\n'.join(lines), ''
