"""Merge catalogues measured in pieces (e.g. ngmix over ID ranges) into one per tile."""

import os

from shapepipe.errors import InputError
from shapepipe.modules.merge_sep_cats_package.merge import merge_catalogs, piece_paths
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='ngmix_runner',
    inputs=[Input('pieces', 'ngmix', '.fits')],
    depends=['numpy', 'astropy'],
    numbering_scheme='-000-000',
    options=[
        Option('N_SPLIT_MAX', 'int', doc='Number of pieces (<module>_RUN_1 .. _RUN_N)'),
        Option('WARNING', 'str', 'error', 'A missing piece is an error, or only a warning '
                                          '(any other value)'),
    ],
)
def merge_sep_cats_runner(input_file_list, run_dirs, file_number_string, config,
                          module_config_sec, w_log):
    """Write {FILE_PATTERN}{num}{FILE_EXT} merging the pieces of each input."""
    opts = config.module_options(module_config_sec)
    patterns = opts.get('FILE_PATTERN') or ['ngmix']
    exts = opts.get('FILE_EXT') or ['.fits']
    lines = []
    for index, first in enumerate(input_file_list):
        paths = piece_paths(first, opts['N_SPLIT_MAX'])
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing and opts['WARNING'] == 'error':
            raise InputError(f'{len(missing)} piece(s) missing, e.g. {missing[0]}: rerun that '
                             f'piece or set WARNING = ignore', path=missing[0])
        for path in missing:
            w_log.warning('piece %s not found (left out)', path)
        present = [p for p in paths if os.path.isfile(p)]
        pattern = patterns[index] if index < len(patterns) else 'merged'
        ext = exts[index] if index < len(exts) else '.fits'
        out = os.path.join(run_dirs['output'], f'{pattern}{file_number_string}{ext}')
        n = merge_catalogs(present, out)
        lines.append(f'{len(present)} pieces, {n} rows -> {out}')
    return '\n'.join(lines), ''
