"""Evaluate MCCD models at object positions: CLASSIC, VALIDATION or MULTI-EPOCH."""

from shapepipe.modules.module_decorator import module_runner
from shapepipe.pipeline.options import Option
from shapepipe.psf.mccd.model import MCCDModel
from shapepipe.psf.runner_support import INTERP_OPTIONS, INTERP_OUTPUTS, interpolate_models


@module_runner(
    version='1.1',
    input_module=['sextractor_runner'],
    file_pattern=['sexcat'],
    file_ext=['.fits'],
    outputs=INTERP_OUTPUTS,
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
