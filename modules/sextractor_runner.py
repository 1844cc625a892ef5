"""Detect and measure sources with Source Extractor (FITS_LDAC catalogues)."""

import os

from astropy.io import fits

from shapepipe.errors import ConfigError, ExecutableError, ModuleError
from shapepipe.io.atomic import atomic_paths
from shapepipe.io.epochs import open_object_store
from shapepipe.io.exposure_headers import read_exposure_headers
from shapepipe.io.tool_args import tool_paths
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.sextractor_package.post_process import post_process
from shapepipe.modules.sextractor_package.command import (
    CHECK_TYPES, build_command, numeric_header_value, output_names,
)
from shapepipe.pipeline.execute import execute, find_executable
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='split_exp_runner',
    inputs=[Input('image', 'image', '.fits'),
            Input('weight', 'weight', '.fits', enabled_by='WEIGHT_IMAGE'),
            Input('flag', 'flag', '.fits', enabled_by='FLAG_IMAGE'),
            Input('psf', 'psf', '.psf', enabled_by='PSF_FILE', default=False),
            Input('detection_image', 'detection_image', '.fits', enabled_by='DETECTION_IMAGE',
                  default=False),
            Input('detection_weight', 'detection_weight', '.fits',
                  enabled_by='DETECTION_WEIGHT', default=False)],
    outputs=[Output('catalog', '{PREFIX|SUFFIX_}sexcat{num}.fits', 'fits_ldac'),
             Output('check_images', '{PREFIX|SUFFIX_}{*}{num}.fits', 'fits',
                    when='CHECKIMAGE')],
    executes=['sex'],
    depends=['numpy', 'astropy'],
    options=[
        Option('EXEC_PATH', 'str', 'sex', 'Source Extractor executable (source-extractor is '
                                          'tried too)'),
        Option('DOT_SEX_FILE', 'str', doc='Source Extractor configuration file'),
        Option('DOT_PARAM_FILE', 'str', doc='Output parameter (column) file'),
        Option('DOT_CONV_FILE', 'str', doc='Detection filter (convolution) file'),
        Option('WEIGHT_IMAGE', 'bool', False, 'The next input is a weight map'),
        Option('FLAG_IMAGE', 'bool', False, 'The next input is a flag map'),
        Option('PSF_FILE', 'bool', False, 'The next input is a PSFEx .psf file'),
        Option('DETECTION_IMAGE', 'bool', False, 'The next input is a detection image (dual mode)'),
        Option('DETECTION_WEIGHT', 'bool', False, 'The next input is the detection weight'),
        Option('ZP_FROM_HEADER', 'bool', False, 'Read the zero point from the image header'),
        Option('ZP_KEY', 'str', 'PHOTZP', 'Header keyword of the zero point'),
        Option('BKG_FROM_HEADER', 'bool', False, 'Read a constant background from the header'),
        Option('BKG_KEY', 'str', 'IMMODE', 'Header keyword of the background'),
        Option('CHECKIMAGE', 'list', [], 'Check images, e.g. BACKGROUND', choices=CHECK_TYPES),
        Option('PREFIX', 'str', '', 'Output name prefix: {PREFIX}_sexcat{num}.fits'),
        Option('SUFFIX', 'str', '', 'Older spelling of PREFIX'),
        Option('MAKE_POST_PROCESS', 'bool', False, 'Add multi-epoch EPOCH_i HDUs (tiles)'),
        Option('LOG_WCS', 'str', '', 'Exposure header store (post-processing)'),
        Option('WORLD_POSITION', 'list', ['XWIN_WORLD', 'YWIN_WORLD'],
               'World position columns (post-processing)'),
        Option('CCD_SIZE', 'int_list', [33, 2080, 1, 4612],
               'CCD data section xmin, xmax, ymin, ymax (post-processing)'),
    ],
)
def sextractor_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                      w_log):
    """Run Source Extractor on an image (with weight, flag, PSF, detection image)."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    if opts['MAKE_POST_PROCESS'] and not opts['LOG_WCS']:
        raise ConfigError(f'{where}MAKE_POST_PROCESS = True needs LOG_WCS (the exposure header '
                          f'store, log_exp_headers.sqlite)')
    if len(opts['CCD_SIZE']) != 4:
        raise ConfigError(f'{where}CCD_SIZE needs 4 numbers: xmin, xmax, ymin, ymax')
    prefix = opts['PREFIX'] or opts['SUFFIX']
    inputs = input_file_list.inputs
    image = inputs['image']
    executable = find_executable(opts['EXEC_PATH'])
    if executable is None:
        raise ExecutableError(f'Source Extractor ({opts["EXEC_PATH"]}) not found: sudo apt-get '
                              f'install source-extractor')
    zero_point = numeric_header_value(image, opts['ZP_KEY']) if opts['ZP_FROM_HEADER'] else None
    background = numeric_header_value(image, opts['BKG_KEY']) if opts['BKG_FROM_HEADER'] else None
    headers = None
    if opts['MAKE_POST_PROCESS']:
        # Checked with sqlite first: a locked or corrupt store is one line, not
        # a traceback from sqlitedict's thread.
        open_object_store(opts['LOG_WCS'], 'exposure header store',
                          'rerun merge_headers_runner or fix LOG_WCS').close()
        headers = read_exposure_headers(opts['LOG_WCS'],
                                        config.pipeline('FILE', 'ALLOW_PICKLE'))
    output_dir = run_dirs['output']
    catalog, checks = output_names(output_dir, prefix, file_number_string, opts['CHECKIMAGE'])
    # The catalogue and check images appear together under their final names
    # once Source Extractor succeeded, or not at all (failure, timeout, Ctrl-C).
    with atomic_paths([catalog] + checks) as temps, tool_paths(output_dir) as arg:
        command = build_command(
            executable, arg(image), arg(temps[0]), arg(opts['DOT_SEX_FILE']),
            arg(opts['DOT_PARAM_FILE']), arg(opts['DOT_CONV_FILE']),
            weight=arg(inputs.get('weight')), flag=arg(inputs.get('flag')),
            psf=arg(inputs.get('psf')),
            detection_image=arg(inputs.get('detection_image')),
            detection_weight=arg(inputs.get('detection_weight')), zero_point=zero_point,
            background=background, check_types=opts['CHECKIMAGE'],
            check_names=[arg(t) for t in temps[1:]], cwd=output_dir)
        stdout, stderr = execute(command, cwd=output_dir)
        if not os.path.isfile(temps[0]):
            raise ModuleError(f'Source Extractor wrote no catalogue for {image}: {stderr[-300:]}')
        missing = [c for c, t in zip(checks, temps[1:]) if not os.path.isfile(t)]
        if missing:
            raise ModuleError(f'Source Extractor wrote no check image {missing[0]} for {image}: '
                              f'{stderr[-300:]}')
        try:
            with fits.open(temps[0]) as hdul:
                n_objects = len(hdul[2].data) if len(hdul) > 2 else 0
        except (OSError, ValueError) as error:
            raise ModuleError(f'Source Extractor wrote an unreadable catalogue for {image} '
                              f'({error})') from None
        if headers is not None:
            # Post-processed before the rename: a tile catalogue without its
            # EPOCH HDUs never appears under the final name.
            used = post_process(temps[0], image, headers, opts['WORLD_POSITION'],
                                opts['CCD_SIZE'], log=w_log)
            w_log.info('multi-epoch HDUs for exposures %s', ', '.join(used))
    w_log.info('%d objects in %s', n_objects, catalog)
    return stdout or f'{n_objects} objects', stderr
