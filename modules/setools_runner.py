"""SETools runner: select objects (e.g. stars) in SExtractor catalogues with a
``.setools`` file; write selections, plots, statistics and random splits."""

from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.setools_package.setools import SETools
from shapepipe.modules.setools_package.setools_file import read_setools
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.rng import make_rng


@module_runner(
    version='1.1',
    input_module='sextractor_runner',
    inputs=[Input('catalog', 'sexcat', '.fits')],
    outputs=[Output('mask', 'mask/{*}{num}.fits', 'fits_ldac', 'a [MASK:name] section'),
             Output('rand_split', 'rand_split/{*}{num}.fits', 'fits_ldac'),
             Output('new_cat', 'new_cat/{*}{num}.fits', 'fits'),
             Output('new_cat_text', 'new_cat/{*}{num}.txt', 'txt'),
             Output('stat', 'stat/{*}{num}.txt', 'txt')],
    depends=['numpy', 'astropy', 'matplotlib'],
    options=[
        Option('SETOOLS_CONFIG_PATH', 'str', doc='Path of the .setools selection file'),
    ],
)
def setools_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                   w_log):
    """Select objects in SExtractor catalogues (masks, plots, stats, random splits)."""
    opts = config.module_options(module_config_sec)
    setools = read_setools(opts['SETOOLS_CONFIG_PATH'])
    rng = make_rng(config.run_seed, 'setools', file_number_string)
    tool = SETools(input_file_list[0], setools, run_dirs['output'], file_number_string,
                   rng=rng, log=w_log)
    outputs = tool.process()
    lines = [f'{len(tool.catalog)} objects in {input_file_list[0]}']
    lines += [f'{name}: {int(mask.sum())} selected' for name, mask in tool.masks.items()]
    lines += [f'wrote {path}' for path in outputs]
    return '\n'.join(lines), ''
