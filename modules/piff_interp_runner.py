"""Evaluate Piff models at object positions: CLASSIC, VALIDATION or MULTI-EPOCH."""

from shapepipe.modules.module_decorator import module_runner
from shapepipe.psf.piff.model import PiffModel
from shapepipe.psf.runner_support import INTERP_OPTIONS, INTERP_OUTPUTS, interpolate_models
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.0',
    input_module=['sextractor_runner'],
    file_pattern=['sexcat'],
    file_ext=['.fits'],
    outputs=INTERP_OUTPUTS,
    depends=['numpy', 'astropy', 'galsim', 'sqlitedict', 'piff'],
    options=INTERP_OPTIONS + [
        Option('PSF_MODEL_DIR', 'str', 'piff_runner',
               'Model directory: a directory, last:<module> or a module name'),
        Option('PSF_MODEL_PATTERN', 'str', 'piff_model', 'Model file name before <sep><exp>'),
    ],
)
def piff_interp_runner(input_file_list, run_dirs, file_number_string, config,
                       module_config_sec, w_log):
    """PSF stamps and shapes from the exposure's Piff model, as psfex_interp_runner."""
    return interpolate_models(input_file_list, run_dirs, file_number_string, config,
                              module_config_sec, w_log, '.piff', PiffModel)
