"""What several PSF runners share: the MCCD fit/validation options and the
interpolation of per-exposure models (mccd_interp_runner, piff_interp_runner)."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from shapepipe.errors import ConfigError
from shapepipe.io.exposure_headers import read_exposure_headers
from shapepipe.pipeline.connections import Output
from shapepipe.options import Option
from shapepipe.pipeline.run_log import RunLog, parse_input_dir
from shapepipe.psf.mccd.interpolate import (
    classic, interpolate_epochs, load_exposure_model, model_path, validation,
)

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence

    from shapepipe.pipeline.config import ShapePipeConfig
    from shapepipe.psf.mccd.model import MCCDModel
    from shapepipe.psf.piff.model import PiffModel

#: Options shared by the MCCD fit and validation runners (ShapePipe's keys).
MCCD_OPTIONS = [
    Option('CONFIG_PATH', 'str', doc='MCCD config file (config_MCCD.ini)'),
    Option('MODE', 'str', 'FIT', 'FIT, FIT_VALIDATION or VALIDATION (must match the runner)',
           choices=('FIT', 'FIT_VALIDATION', 'VALIDATION')),
    Option('VERBOSE', 'bool', False, 'Log the MCCD settings'),
]


def check_mode(
    opts: Mapping[str, Any], mode: str, config: ShapePipeConfig, section: str,
) -> None:
    """ConfigError unless MODE is the runner's mode (as ShapePipe requires)."""
    if opts['MODE'] != mode:
        raise ConfigError(f'{config.where(section)}MODE = {opts["MODE"]}: this runner needs '
                          f'MODE = {mode}')


def resolve_model_dir(entry: str, run_log_path: str) -> str:
    """PSF_MODEL_DIR: a directory, ``last:module`` or (as ShapePipe) a bare module name."""
    link = parse_input_dir(entry)
    if link.kind == 'dir' and not os.path.isdir(entry) and re.fullmatch(r'\w+', entry):
        link = parse_input_dir(f'last:{entry}')
    if link.kind == 'dir':
        return entry
    return RunLog(run_log_path).resolve(link)[0]


def exposure_and_ccd(file_number_string: str, separator: str) -> tuple[str, int]:
    """``-2113737-13`` -> ('2113737', 13)."""
    parts = file_number_string.split(separator)
    try:
        return parts[-2], int(parts[-1])
    except (IndexError, ValueError):
        raise ConfigError(f'file number {file_number_string!r} is not <sep><exposure><sep><ccd>: '
                          f'use NUMBERING_SCHEME = -0000000-0') from None


#: Outputs shared with piff_interp_runner (those of psfex_interp_runner).
INTERP_OUTPUTS = [
    Output('psf', 'galaxy_psf{num}.fits', 'fits', when='MODE=CLASSIC'),
    Output('psf_store', 'galaxy_psf{num}.sqlite', 'sqlite', when='MODE=MULTI-EPOCH'),
    Output('validation', 'validation_psf{num}.fits', 'fits', when='MODE=VALIDATION'),
]

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


def interpolate_models(
    input_file_list: Sequence[str], run_dirs: Mapping[str, str], file_number_string: str,
    config: ShapePipeConfig, module_config_sec: str, w_log: logging.Logger, ext: str,
    loader: Callable[[str], MCCDModel | PiffModel],
) -> tuple[str, str]:
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
        headers = read_exposure_headers(opts['ME_LOG_WCS'],
                                        config.pipeline('FILE', 'ALLOW_PICKLE'))
        n_objects, written, missing = interpolate_epochs(
            input_file_list[0], model_dir, pattern, sep, headers, out, world, log=w_log, ext=ext,
            loader=loader)
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
