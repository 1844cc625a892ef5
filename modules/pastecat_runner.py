"""Paste catalogues of the same objects into one file, one HDU each (ShapePipe's pastecat)."""

import os

from shapepipe.errors import ConfigError
from shapepipe.modules.module_decorator import Output, module_runner
from shapepipe.modules.pastecat_package.pastecat import paste_catalogs
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='sextractor_runner',
    file_pattern='tile_sexcat',
    file_ext='.fits',
    outputs=[Output('catalog', '{PREFIX}{num}.fits', 'fits', 'one table HDU per input')],
    depends=['numpy', 'astropy'],
    options=[
        Option('PREFIX', 'str', 'cat_pasted', 'Output name: {PREFIX}{num}.fits'),
        Option('HDU', 'int_list', None, 'Table HDU of each input (default 2 for every input)'),
        Option('EXT_NAME', 'list', None, 'EXTNAME of each output HDU (default: the input '
                                         'file names)'),
        Option('CHECK_COL_NAME', 'str', None, 'Column that must be equal in every input '
                                              '(e.g. NUMBER)'),
    ],
)
def pastecat_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                    w_log):
    """Write {PREFIX}{num}.fits with the table of every input catalogue."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    for key in ('HDU', 'EXT_NAME'):
        if opts[key] is not None and len(opts[key]) != len(input_file_list):
            raise ConfigError(f'{where}{key} has {len(opts[key])} entries for '
                              f'{len(input_file_list)} input files (one per FILE_PATTERN)')
    out = os.path.join(run_dirs['output'], f'{opts["PREFIX"]}{file_number_string}.fits')
    rows = paste_catalogs(input_file_list, out, opts['HDU'], opts['EXT_NAME'],
                          opts['CHECK_COL_NAME'])
    return f'{len(rows)} catalogues ({", ".join(map(str, rows))} rows) -> {out}', ''
