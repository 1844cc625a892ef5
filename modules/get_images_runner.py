"""Retrieve images by ID (symbolic links or VOSpace copies), renamed for the pipeline."""

import os

from shapepipe.errors import ConfigError, InputError
from shapepipe.modules.get_images_package.get_images import link, plan, read_ids, vos_copy
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    inputs=[Input('ids', 'tile_numbers', '.txt')],
    numbering_scheme='',
    run_method='serial',
    options=[
        Option('RETRIEVE', 'str', None, 'symlink (local files) or vos (VOSpace copy)',
               choices=('symlink', 'vos')),
        Option('COPY', 'str', None, 'Older spelling of RETRIEVE', choices=('symlink', 'vos')),
        Option('RETRIEVE_OPTIONS', 'str', '', 'Options of the copy command'),
        Option('COPY_OPTIONS', 'str', '', 'Older spelling of RETRIEVE_OPTIONS'),
        Option('N_TRY', 'int', 3, 'Attempts per file for vos'),
        Option('INPUT_PATH', 'list', doc='Where the raw images are, one per image type'),
        Option('INPUT_FILE_PATTERN', 'list', doc='Raw name with a dummy ID, e.g. CFIS.000.000.r'),
        Option('INPUT_FILE_EXT', 'list', doc='Raw extension per type, e.g. .fits, .fits.fz'),
        Option('OUTPUT_FILE_PATTERN', 'list', doc='Output name before the ID, e.g. CFIS_image-'),
        Option('INPUT_NUMBERING', 'str', doc='Regex of the ID in INPUT_FILE_PATTERN'),
        Option('OUTPUT_PATH', 'str', '', 'Output directory (default: the module output)'),
        Option('CHECK_EXISTING_DIR', 'str', '', 'Skip images already present in this directory'),
        Option('N_EXPECTED', 'int', 0, 'Expected number of images per ID type (0: no check)'),
    ],
)
def get_images_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                      w_log):
    """Retrieve images listed by ID and give them pipeline names."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    method = opts['RETRIEVE'] or opts['COPY']
    if method is None:
        raise ConfigError(f'{where}set RETRIEVE = symlink or vos')
    output_dir = opts['OUTPUT_PATH'] or run_dirs['output']
    os.makedirs(output_dir, exist_ok=True)
    ids = read_ids([path for paths in input_file_list for path in paths])
    if not ids:
        raise InputError(f'no ID in {", ".join(p for ps in input_file_list for p in ps)}')
    pairs = plan(ids, opts['INPUT_PATH'], opts['INPUT_FILE_PATTERN'], opts['INPUT_FILE_EXT'],
                 opts['OUTPUT_FILE_PATTERN'], opts['INPUT_NUMBERING'], output_dir)
    done = skipped = 0
    for source, destination in pairs:
        existing = opts['CHECK_EXISTING_DIR']
        if existing and os.path.exists(os.path.join(existing, os.path.basename(destination))):
            skipped += 1
            continue
        if method == 'symlink':
            link(source, destination)
        else:
            vos_copy(source, destination, opts['N_TRY'],
                     opts['RETRIEVE_OPTIONS'] or opts['COPY_OPTIONS'])
        done += 1
    if opts['N_EXPECTED'] and len(ids) != opts['N_EXPECTED']:
        w_log.warning('%d IDs found, %d expected', len(ids), opts['N_EXPECTED'])
    return f'{done} images retrieved ({method}), {skipped} already present, {len(ids)} IDs', ''
