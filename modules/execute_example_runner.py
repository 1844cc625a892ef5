"""Example module: run an external executable (``head``) on each input."""

import os

from shapepipe.io.atomic import write_text
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.execute import execute


@module_runner(
    version='1.0',
    input_module='python_example_runner',
    inputs=[Input('text', 'pyex_output', '.cat')],
    outputs=[Output('head', 'head_output{num}.txt', 'txt')],
    executes='head',
)
def execute_example_runner(input_file_list, run_dirs, file_number_string, config,
                           module_config_sec, w_log):
    """Run ``head`` on a file and save its output (toy pipeline)."""
    stdout, stderr = execute(['head', input_file_list[0]])
    output = os.path.join(run_dirs['output'], f'head_output{file_number_string}.txt')
    write_text(output, stdout)
    return stdout, stderr
