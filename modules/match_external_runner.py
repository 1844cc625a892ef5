"""Match catalogues to an external catalogue by position (ShapePipe's match_external)."""

import os

from shapepipe.errors import ConfigError
from shapepipe.modules.match_external_package.match_external import match_external
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='sextractor_runner',
    inputs=[Input('catalog', 'tile_sexcat', '.fits')],
    outputs=[Output('matched', '{PREFIX}{num}.fits', 'fits', 'HDU MATCHED (and EPOCH_i)')],
    depends=['numpy', 'astropy'],
    options=[
        Option('TOLERANCE', 'float', doc='Largest match distance [arcsec]'),
        Option('COL_MATCH', 'list', doc='RA and Dec columns of the input [deg]'),
        Option('HDU', 'int', 2, 'Table HDU of the input'),
        Option('MODE', 'str', 'CLASSIC', 'MULTI-EPOCH also copies the matched rows of the '
               'EPOCH_i HDUs', choices=('CLASSIC', 'MULTI-EPOCH')),
        Option('EXTERNAL_CAT_PATH', 'str', doc='External catalogue (FITS)'),
        Option('EXTERNAL_COL_MATCH', 'list', doc='RA and Dec columns of the external catalogue'),
        Option('EXTERNAL_COL_COPY', 'list', doc='External columns copied to the output'),
        Option('EXTERNAL_HDU', 'int', 1, 'Table HDU of the external catalogue'),
        Option('PREFIX', 'str', 'cat_matched', 'Output name: {PREFIX}{num}.fits'),
        Option('MARK_NON_MATCHED', 'float', None, 'Write every object; copied columns hold this '
                                                  'value where nothing matched'),
        Option('OUTPUT_DISTANCE', 'bool', False, 'Add the match distance [arcsec] as distance'),
        Option('OUTPUT_FILE_PATTERN', 'str', None, 'Unused, as in ShapePipe (PREFIX names the '
                                                   'output)'),
    ],
)
def match_external_runner(input_file_list, run_dirs, file_number_string, config,
                          module_config_sec, w_log):
    """Write {PREFIX}{num}.fits: the input objects matched to the external catalogue."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    for key in ('COL_MATCH', 'EXTERNAL_COL_MATCH'):
        if len(opts[key]) != 2:
            raise ConfigError(f'{where}{key} needs two columns: RA, Dec')
    out = os.path.join(run_dirs['output'], f'{opts["PREFIX"]}{file_number_string}.fits')
    result = match_external(
        input_file_list.inputs['catalog'], out, opts['TOLERANCE'], opts['COL_MATCH'], opts['HDU'],
        opts['MODE'], opts['EXTERNAL_CAT_PATH'], opts['EXTERNAL_COL_MATCH'],
        opts['EXTERNAL_COL_COPY'], opts['EXTERNAL_HDU'], opts['MARK_NON_MATCHED'],
        opts['OUTPUT_DISTANCE'])
    if result is None:
        message = (f'no object of {input_file_list.inputs["catalog"]} within '
                   f'{opts["TOLERANCE"]} arcsec of the external catalogue: no output (as '
                   f'ShapePipe)')
        w_log.info(message)
        return message, ''
    matched, total = result
    return f'{matched} of {total} objects matched -> {out}', ''
