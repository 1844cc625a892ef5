"""List the exposures that contributed to each tile."""

import os

from shapepipe.errors import InputError
from shapepipe.io.atomic import write_text
from shapepipe.modules.find_exposures_package.find_exposures import exposures_from_header
from shapepipe.modules.module_decorator import Input, Output, module_runner


@module_runner(
    version='1.1',
    input_module='get_images_runner',
    inputs=[Input('tile', 'CFIS_image', '.fits')],
    outputs=[Output('exposures', 'exp_numbers{num}.txt', 'txt')],
    depends=['astropy'],
    numbering_scheme='-000-000',
)
def find_exposures_runner(input_file_list, run_dirs, file_number_string, config,
                          module_config_sec, w_log):
    """Write exp_numbers{num}.txt: the exposures named in a tile's HISTORY."""
    names = exposures_from_header(input_file_list[0])
    if not names:
        raise InputError(f'{input_file_list[0]}: no exposure named in the HISTORY cards')
    out = os.path.join(run_dirs['output'], f'exp_numbers{file_number_string}.txt')
    write_text(out, '\n'.join(names) + '\n')
    return f'{len(names)} exposures: {", ".join(names)}', ''
