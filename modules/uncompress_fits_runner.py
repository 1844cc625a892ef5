"""Uncompress tile-compressed images (e.g. tile weights) into plain FITS."""

import os

from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.uncompress_fits_package.uncompress import uncompress
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='get_images_runner',
    inputs=[Input('compressed', 'CFIS_weight', '.fitsfz')],
    outputs=[Output('image', '{OUTPUT_PATTERN}{num}.fits', 'fits')],
    depends=['astropy'],
    numbering_scheme='-000-000',
    options=[
        Option('OUTPUT_PATTERN', 'str', 'CFIS_weight', 'Output name before the number'),
        Option('HDU_DATA', 'int', 1, 'HDU holding the image'),
    ],
)
def uncompress_fits_runner(input_file_list, run_dirs, file_number_string, config,
                           module_config_sec, w_log):
    """Write HDU_DATA of a compressed file as {OUTPUT_PATTERN}{num}.fits."""
    opts = config.module_options(module_config_sec)
    out = os.path.join(run_dirs['output'], f'{opts["OUTPUT_PATTERN"]}{file_number_string}.fits')
    uncompress(input_file_list[0], out, opts['HDU_DATA'])
    return f'wrote {out}', ''
