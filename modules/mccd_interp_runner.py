"""Evaluate MCCD models at object positions: CLASSIC, VALIDATION or MULTI-EPOCH."""

import os
import re

from shapepipe.errors import ConfigError
from shapepipe.modules.mccd_package.interpolate import (
    classic, interpolate_epochs, load_exposure_model, model_path, validation,
)
from shapepipe.modules.mccd_package.model import MCCDModel
from shapepipe.modules.merge_headers_package.merge_headers import read_exposure_headers
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.run_log import RunLog, parse_input_dir


def resolve_model_dir(entry, run_log_path):
    """PSF_MODEL_DIR: a directory, ``last:module`` or (as ShapePipe) a bare module name."""
    link = parse_input_dir(entry)
    if link.kind == 'dir' and not os.path.isdir(entry) and re.fullmatch(r'\w+', entry):
        link = parse_input_dir(f'last:{entry}')
    if link.kind == 'dir':
        return entry
    return RunLog(run_log_path).resolve(link)[0]


def exposure_and_ccd(file_number_string, separator):
    """``-2113737-13`` -> ('2113737', 13)."""
    parts = file_number_string.split(separator)
    try:
        return parts[-2], int(parts[-1])
    except (IndexError, ValueError):
        raise ConfigError(f'file number {file_number_string!r} is not <sep><exposure><sep><ccd>: '
                          f'use NUMBERING_SCHEME = -0000000-0') from None


#: Options shared with piff_interp_runner (ShapePipe's mccd_interp keys).
INTERP_OPTIONS = [
    Option('MODE', 'str', 'CLASSIC', "CLASSIC (a CCD catalogue), VALIDATION (a CCD's "
           "validation stars) or MULTI-EPOCH (tile objects)",
           choices=('CLASSIC', 'VALIDATION', 'MULTI-EPOCH')),
    Option('POSITION_PARAMS', 'list', ['XWIN_IMAGE', 'YWIN_IMAGE'],
           'Position columns: pixels (CLASSIC, VALIDATION); world (MULTI-EPOCH)'),
    Option('GET_SHAPES', 'bool', True, 'Measure HSM shapes of the PSF'),
    Option('PSF_MODEL_SEPARATOR', 'str', '-', 'Separator of exposure and CCD numbers'),
    Option('ME_LOG_WCS', 'str', '', 'Multi-epoch: exposure header store'),
]


@module_runner(
    version='1.1',
    input_module=['sextractor_runner'],
    file_pattern=['sexcat'],
    file_ext=['.fits'],
    outputs=[Output('psf', 'galaxy_psf{num}.fits', 'fits', when='MODE=CLASSIC'),
             Output('psf_store', 'galaxy_psf{num}.sqlite', 'sqlite', when='MODE=MULTI-EPOCH'),
             Output('validation', 'validation_psf{num}.fits', 'fits', when='MODE=VALIDATION')],
    depends=['numpy', 'astropy', 'galsim', 'sqlitedict', 'mccd'],
    options=INTERP_OPTIONS + [
        Option('PSF_MODEL_DIR', 'str', 'mccd_fit_val_runner',
               'Model directory: a directory, last:<module> or a module name'),
        Option('PSF_MODEL_PATTERN', 'str', 'fitted_model', 'Model file name before <sep><exp>'),
    ],
)
def mccd_interp_runner(input_file_list, run_dirs, file_number_string, config,
                       module_config_sec, w_log):
    """PSF stamps and shapes from the exposure's MCCD model."""
    return interpolate_models(input_file_list, run_dirs, file_number_string, config,
                              module_config_sec, w_log, '.npz', MCCDModel)


def interpolate_models(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                       w_log, ext, loader):
    """The work of mccd_interp_runner and piff_interp_runner: models ``<pattern>-<exp><ext>``
    read by ``loader``."""
    opts = config.module_options(module_config_sec)
    model_dir = resolve_model_dir(opts['PSF_MODEL_DIR'], run_dirs['run_log'])
    pattern, sep = opts['PSF_MODEL_PATTERN'], opts['PSF_MODEL_SEPARATOR']
    output = run_dirs['output']
    if opts['MODE'] == 'MULTI-EPOCH':
        if not opts['ME_LOG_WCS']:
            raise ConfigError(f'{config.where(module_config_sec)}MODE = MULTI-EPOCH needs '
                              f'ME_LOG_WCS')
        world = opts['POSITION_PARAMS']
        if not all('WORLD' in p.upper() for p in world):
            world = ['XWIN_WORLD', 'YWIN_WORLD']
        out = os.path.join(output, f'galaxy_psf{file_number_string}.sqlite')
        n_objects, written, missing = interpolate_epochs(
            input_file_list[0], model_dir, pattern, sep, read_exposure_headers(opts['ME_LOG_WCS']),
            out, world, log=w_log, ext=ext, loader=loader)
        return (f'{n_objects} objects, {written} object-epochs with a PSF, {missing} without '
                f'-> {out}'), ''
    exposure, ccd = exposure_and_ccd(file_number_string, sep)
    model = load_exposure_model(model_path(model_dir, pattern, sep, exposure, ext), loader)
    if opts['MODE'] == 'VALIDATION':
        out = os.path.join(output, f'validation_psf{file_number_string}.fits')
        n = validation(model, ccd, input_file_list[-1], opts['POSITION_PARAMS'], out)
        return f'{n} validation stars -> {out}', ''
    out = os.path.join(output, f'galaxy_psf{file_number_string}.fits')
    n = classic(model, ccd, input_file_list[0], opts['POSITION_PARAMS'], out, opts['GET_SHAPES'])
    return f'{n} PSF stamps -> {out}', ''
