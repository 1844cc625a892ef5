"""Evaluate Piff models at object positions: CLASSIC, VALIDATION or MULTI-EPOCH."""

from shapepipe.modules.mccd_interp_runner import INTERP_OPTIONS, interpolate_models
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.modules.piff_package.model import PiffModel
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.0',
    input_module=['sextractor_runner'],
    file_pattern=['sexcat'],
    file_ext=['.fits'],
    outputs=[Output('psf', 'galaxy_psf{num}.fits', 'fits', when='MODE=CLASSIC'),
             Output('psf_store', 'galaxy_psf{num}.sqlite', 'sqlite', when='MODE=MULTI-EPOCH'),
             Output('validation', 'validation_psf{num}.fits', 'fits', when='MODE=VALIDATION')],
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
