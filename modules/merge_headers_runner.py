"""Merge the exposures' WCS headers into ``log_exp_headers.sqlite``."""

from shapepipe.modules.merge_headers_package.merge_headers import merge_headers
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='split_exp_runner',
    inputs=[Input('headers', 'headers', '.npy')],
    depends=['numpy', 'sqlitedict'],
    numbering_scheme='-0000000',
    run_method='serial',
    options=[Option('OUTPUT_PATH', 'str', '', 'Directory of the store (default: module output)')],
)
def merge_headers_runner(input_file_list, run_dirs, file_number_string, config,
                         module_config_sec, w_log):
    """Merge per-exposure WCS headers into one sqlite store."""
    output_dir = config.module_options(module_config_sec)['OUTPUT_PATH'] or run_dirs['output']
    path = merge_headers(input_file_list[0], output_dir, config.pipeline('FILE', 'ALLOW_PICKLE'))
    return f'{len(input_file_list[0])} exposures merged into {path}', ''
