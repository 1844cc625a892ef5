"""Example module: one serial job over every input file."""

import os

from shapepipe.io.atomic import write_text
from shapepipe.io.text import read_flat
from shapepipe.modules.module_decorator import Input, Output, module_runner


@module_runner(
    version='1.1',
    input_module='python_example_runner',
    inputs=[Input('numbers', 'numbers', '.txt'), Input('letters', 'letters', '.txt'),
            Input('joined', 'pyex_output', '.cat')],
    run_method='serial',
)
def serial_example_runner(input_file_list, run_dirs, file_number_string, config,
                          module_config_sec, w_log):
    """Concatenate every input file, pattern by pattern, into one file (toy pipeline)."""
    lines = []
    for pattern_files in input_file_list:
        lines.extend(read_flat(path) for path in pattern_files)
    output = os.path.join(run_dirs['output'], 'serial_outputs.txt')
    write_text(output, '\n'.join(lines) + '\n')
    w_log.info('joined %d files into %s', len(lines), output)
    return f'{len(lines)} files joined', ''
