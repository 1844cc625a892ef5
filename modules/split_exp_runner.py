"""Split single-exposure mosaics (image, weight, flag) into one file per CCD."""

import os

import numpy as np

from shapepipe.errors import ConfigError
from shapepipe.io.atomic import atomic_group
from shapepipe.io.exposure_headers import headers_file_name
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.split_exp_package.split_exp import save_headers, split_mosaic
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    inputs=[Input('image', 'image', '.fitsfz'), Input('weight', 'weight', '.fitsfz'),
            Input('flag', 'flag', '.fitsfz')],
    outputs=[Output('ccds', '{OUTPUT_SUFFIX}{num}.fits', 'fits', '{num}-CCD, one per CCD'),
             Output('headers', 'headers{num}.npy', 'npy')],
    depends=['numpy', 'astropy'],
    numbering_scheme='-0000000',
    options=[
        Option('OUTPUT_SUFFIX', 'list', doc='Output name per input type, e.g. image, weight, flag'),
        Option('N_HDU', 'int', 40, 'Number of CCD HDUs in a mosaic (MegaCam: 40)'),
    ],
)
def split_exp_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                     w_log):
    """Split exposure mosaics into single-CCD files and save their WCS headers."""
    opts = config.module_options(module_config_sec)
    suffixes = opts['OUTPUT_SUFFIX']
    if len(suffixes) != len(input_file_list):
        raise ConfigError(f'{config.where(module_config_sec)}OUTPUT_SUFFIX has {len(suffixes)} '
                          f'entries for {len(input_file_list)} input files')
    headers = []
    written = 0
    # All CCD files and the header file of an exposure appear together, or none
    # (a truncated last HDU must not leave 39 of 40 CCDs behind).
    with atomic_group() as group:
        for path, suffix in zip(input_file_list, suffixes):
            is_flag = 'flag' in suffix.lower()
            files = split_mosaic(path, run_dirs['output'], suffix, file_number_string,
                                 opts['N_HDU'], dtype=np.int16 if is_flag else None,
                                 header_list=headers if suffix == suffixes[0] else None,
                                 group=group)
            written += len(files)
        save_headers(group.temporary(os.path.join(run_dirs['output'],
                                                  headers_file_name(file_number_string))),
                     headers)
    return f'{written} CCD files written', ''
