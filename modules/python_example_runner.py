"""Example module: join two input text files into a message."""

import os

from shapepipe.io.atomic import write_text
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.python_example_package.text_join import join_pair
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    inputs=[Input('numbers', 'numbers', '.txt'), Input('letters', 'letters', '.txt')],
    outputs=[Output('joined', 'pyex_output{num}.cat', 'txt')],
    depends=['numpy'],
    options=[Option('MESSAGE', 'str', doc='Text written before the joined file contents')],
)
def python_example_runner(input_file_list, run_dirs, file_number_string, config,
                          module_config_sec, w_log):
    """Join the contents of two text files after a message (toy pipeline)."""
    message = config.module_options(module_config_sec)['MESSAGE']
    text = join_pair(input_file_list[0], input_file_list[1])
    output = os.path.join(run_dirs['output'], f'pyex_output{file_number_string}.cat')
    write_text(output, f'{message} {text}\n')
    w_log.info('wrote %s', output)
    return f'{message} {text}', ''
