"""Evaluate PSFEx models at positions: PSFs for galaxies (CLASSIC) or model
against stars (VALIDATION)."""

import os

from shapepipe.errors import ConfigError
from shapepipe.io.exposure_headers import read_exposure_headers
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.modules.psfex_interp_package.interpolate import classic, load_model, validation
from shapepipe.modules.psfex_interp_package.multi_epoch import interpolate_epochs
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.run_log import RunLog, parse_input_dir


def _resolve_dirs(entries, run_log_path):
    """Directories of ME_DOT_PSF_DIR; ``last:psfex_runner``-style links allowed."""
    dirs = []
    for entry in entries:
        link = parse_input_dir(entry)
        dirs.extend([entry] if link.kind == 'dir' else RunLog(run_log_path).resolve(link))
    return dirs


def _multi_epoch(input_file_list, run_dirs, file_number_string, config, section, opts, w_log):
    where = config.where(section)
    if not opts['ME_DOT_PSF_DIR'] or not opts['ME_LOG_WCS']:
        raise ConfigError(f'{where}MODE = MULTI-EPOCH needs ME_DOT_PSF_DIR and ME_LOG_WCS')
    psf_dirs = _resolve_dirs(opts['ME_DOT_PSF_DIR'], run_dirs['run_log'])
    headers = read_exposure_headers(opts['ME_LOG_WCS'], config.pipeline('FILE', 'ALLOW_PICKLE'))
    out = os.path.join(run_dirs['output'], f'galaxy_psf{file_number_string}.sqlite')
    n_objects, written, missing = interpolate_epochs(
        input_file_list[0], psf_dirs, opts['ME_DOT_PSF_PATTERN'], headers, out,
        star_thresh=opts['STAR_THRESH'], chi2_thresh=opts['CHI2_THRESH'],
        correct_resampling=opts['CORRECT_RESAMPLING'], log=w_log)
    if missing:
        w_log.warning('%d object-epochs without a PSF model (dropped)', missing)
    return (f'{n_objects} objects, {written} object-epochs with a PSF, {missing} without '
            f'-> {out}'), ''


@module_runner(
    version='1.1',
    input_module=['psfex_runner', 'setools_runner'],
    file_pattern=['star_split_ratio_80', 'star_split_ratio_20', 'psfex_cat'],
    file_ext=['.psf', '.fits', '.cat'],
    outputs=[Output('psf', 'galaxy_psf{num}.fits', 'fits', when='MODE=CLASSIC'),
             Output('psf_store', 'galaxy_psf{num}.sqlite', 'sqlite', when='MODE=MULTI-EPOCH'),
             Output('validation', 'validation_psf{num}.fits', 'fits', when='MODE=VALIDATION')],
    depends=['numpy', 'astropy', 'galsim', 'scipy'],
    options=[
        Option('MODE', 'str', 'CLASSIC', 'CLASSIC, VALIDATION or MULTI-EPOCH',
               choices=('CLASSIC', 'VALIDATION', 'MULTI-EPOCH')),
        Option('POSITION_PARAMS', 'list', ['XWIN_IMAGE', 'YWIN_IMAGE'],
               'Catalogue columns of the positions'),
        Option('GET_SHAPES', 'bool', True, 'Measure HSM shapes of the PSF'),
        Option('STAR_THRESH', 'int', 20, 'Minimum accepted stars for a CCD model'),
        Option('CHI2_THRESH', 'float', 2.0, 'Maximum chi2 of a CCD model'),
        Option('CORRECT_RESAMPLING', 'bool', True,
               'Undo the Lanczos3 smoothing of PSFEx models without a basis (BASIS_TYPE NONE, '
               'or PIXEL_AUTO at FWHM >= 3 pixels): their size is otherwise 0.4-0.7% too small'),
        Option('ME_DOT_PSF_DIR', 'list', [], 'Multi-epoch: directories of the .psf files'),
        Option('ME_DOT_PSF_PATTERN', 'str', 'star_split_ratio_80', 'Multi-epoch: .psf pattern'),
        Option('ME_LOG_WCS', 'str', '', 'Multi-epoch: exposure header store'),
    ],
)
def psfex_interp_runner(input_file_list, run_dirs, file_number_string, config,
                        module_config_sec, w_log):
    """Interpolate PSFEx models to object or star positions, with HSM shapes."""
    opts = config.module_options(module_config_sec)
    mode = opts['MODE']
    if mode == 'MULTI-EPOCH':
        return _multi_epoch(input_file_list, run_dirs, file_number_string, config,
                            module_config_sec, opts, w_log)
    model = load_model(input_file_list[0], opts['STAR_THRESH'], opts['CHI2_THRESH'],
                       opts['CORRECT_RESAMPLING'])
    if mode == 'VALIDATION':
        out = os.path.join(run_dirs['output'], f'validation_psf{file_number_string}.fits')
        table = validation(model, input_file_list[1], opts['POSITION_PARAMS'], out)
        return f'{len(table)} validation stars -> {out}', ''
    out = os.path.join(run_dirs['output'], f'galaxy_psf{file_number_string}.fits')
    n = classic(model, input_file_list[1], opts['POSITION_PARAMS'], out, opts['GET_SHAPES'])
    return f'{n} PSF stamps -> {out}', ''
