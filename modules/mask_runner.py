"""Mask runner: flag maps of images (border, halos, spikes, deep-sky objects,
missing data), merged with the input flag file."""

import os

from shapepipe.errors import ConfigError, InputError
from shapepipe.modules.mask_package.config_file import (  # noqa: F401 (SECTIONS: docs tables)
    SECTIONS as MASK_FILE_SECTIONS, read_mask_config,
)
from shapepipe.modules.mask_package.mask import build_mask, write_flag_file
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


def _named_inputs(input_file_list, use_ext_flag, use_ext_star):
    """The job's image, weight, [flag], [star catalogue] by declared role."""
    roles = input_file_list.inputs
    if len(roles) != len(input_file_list):
        expected = ['image', 'weight'] + (['flag'] if use_ext_flag else []) + (
            ['star_cat'] if use_ext_star else [])
        raise ConfigError(
            f'mask_runner: {len(input_file_list)} input files per job but USE_EXT_FLAG = '
            f'{use_ext_flag} and USE_EXT_STAR = {use_ext_star} expect {len(expected)} '
            f'({", ".join(expected)}); fix FILE_PATTERN or the USE_EXT_* options')
    return roles['image'], roles['weight'], roles.get('flag'), roles.get('star_cat')


@module_runner(
    version='1.1',
    input_module='split_exp_runner',
    inputs=[Input('image', 'image', '.fits'), Input('weight', 'weight', '.fits'),
            Input('flag', 'flag', '.fits', enabled_by='USE_EXT_FLAG'),
            Input('star_cat', 'star_cat', '.cat', enabled_by='USE_EXT_STAR', default=False)],
    outputs=[Output('flag', '{PREFIX|SUFFIX_}flag{num}.fits', 'fits')],
    depends=['numpy', 'astropy', 'matplotlib'],
    numbering_scheme='_0',
    options=[
        Option('MASK_CONFIG_PATH', 'str', doc='Path of the .mask configuration file'),
        Option('USE_EXT_FLAG', 'bool', True,
               'Merge the input flag file (3rd input) into the output flags'),
        Option('USE_EXT_STAR', 'bool', False,
               'Read stars from a star_cat input file (last input) instead of querying GSC'),
        Option('HDU', 'int', 0, 'HDU of the external flag file'),
        Option('PREFIX', 'str', '', 'Output name prefix: {PREFIX}_flag{num}.fits'),
        Option('SUFFIX', 'str', '', 'Older spelling of PREFIX (tutorial)'),
        Option('CHECK_EXISTING_DIR', 'str', '',
               'Directory of flag files made earlier: copy instead of recomputing'),
    ],
)
def mask_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                w_log):
    """Create flag maps: border, halos, spikes, Messier/NGC, missing data, external flags."""
    opts = config.module_options(module_config_sec)
    prefix, suffix = opts['PREFIX'].strip(), opts['SUFFIX'].strip()
    if prefix and suffix and prefix != suffix:
        raise ConfigError(f'{config.where(module_config_sec)}PREFIX = {prefix} and SUFFIX = '
                          f'{suffix} disagree; set only one (SUFFIX is the older spelling)')
    prefix = prefix or suffix
    if prefix.lower() == 'none':
        prefix = ''
    out_name = f'{prefix}_flag{file_number_string}.fits' if prefix else (
        f'flag{file_number_string}.fits')
    out_path = os.path.join(run_dirs['output'], out_name)

    if opts['CHECK_EXISTING_DIR']:
        existing = os.path.join(opts['CHECK_EXISTING_DIR'], out_name)
        if os.path.isfile(existing):
            w_log.info('flag file %s exists: linked, not recomputed', existing)
            os.symlink(os.path.abspath(existing), out_path)
            return f'linked {existing}', ''

    image, weight, flag, star_cat = _named_inputs(
        input_file_list, opts['USE_EXT_FLAG'], opts['USE_EXT_STAR'])
    mask_config = read_mask_config(opts['MASK_CONFIG_PATH'], log=w_log)
    if star_cat is not None and not os.path.isfile(star_cat):
        raise InputError(f'star catalogue {star_cat} not found', path=star_cat)

    flags, header, summary = build_mask(
        image, weight, mask_config, flag_path=flag, flag_hdu=opts['HDU'],
        star_cat_path=star_cat, log=w_log,
    )
    write_flag_file(out_path, flags, header)
    lines = summary.lines() + [f'wrote {out_path}']
    for line in lines:
        w_log.info(line)
    return '\n'.join(lines), ''
