"""Postage stamps at catalogue positions: of one image (CLASSIC) or of every
single-exposure CCD an object lies on (MULTI-EPOCH)."""

import os

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from shapepipe.errors import ConfigError, InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.exposure_headers import read_exposure_headers
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.vignetmaker_package.multi_epoch import multi_epoch_stamps
from shapepipe.modules.vignetmaker_package.stamps import (
    MISSING_VALUE, cut_stamps, first_image_hdu,
)
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.run_log import RunLog, parse_input_dir


def _classic(input_file_list, run_dirs, number, opts, where):
    if len(input_file_list) < 2:
        raise ConfigError(f'{where}CLASSIC mode needs a catalogue and an image (FILE_PATTERN)')
    catalog_path, image_path = input_file_list[:2]
    first, second = opts['POSITION_PARAMS']
    with fits.open(catalog_path) as hdul:
        rows = hdul[2 if len(hdul) > 2 else 1].data
        missing = [c for c in ('NUMBER', first, second) if c not in rows.columns.names]
        if missing:
            raise InputError(f'{catalog_path} has no column {missing[0]}: fix POSITION_PARAMS',
                             path=catalog_path)
        # Only the columns needed (a tile catalogue's VIGNET column is 10 KB per object).
        objects = {c: np.array(rows[c]) for c in ('NUMBER', first, second)}
    with fits.open(image_path, memmap=True) as hdul:
        hdu = first_image_hdu(hdul, image_path)
        if opts['COORD'] == 'SPHE':
            x, y = WCS(hdu.header).all_world2pix(objects[first], objects[second], 1)
        else:
            x, y = np.asarray(objects[first], float), np.asarray(objects[second], float)
        stamps = cut_stamps(hdu.data, x, y, opts['STAMP_SIZE'])
    if opts['MASKING'] and not np.issubdtype(stamps.dtype, np.integer):
        stamps[stamps == opts['MASK_VALUE']] = MISSING_VALUE
    out = os.path.join(run_dirs['output'], f'{opts["PREFIX"]}_vignet{number}.fits')
    table = Table({'NUMBER': objects['NUMBER'], 'VIGNET': stamps})
    with atomic_path(out) as tmp:
        table.write(tmp, format='fits')
    return f'{len(table)} stamps -> {out}'


def _multi_epoch(input_file_list, run_dirs, number, opts, where, w_log, allow_pickle=False):
    dirs, patterns = opts['ME_IMAGE_DIR'], opts['ME_IMAGE_PATTERN']
    if not dirs or len(dirs) != len(patterns) or not opts['ME_LOG_WCS']:
        raise ConfigError(f'{where}MULTI-EPOCH needs ME_IMAGE_DIR and ME_IMAGE_PATTERN of equal '
                          f'length and ME_LOG_WCS')
    headers = read_exposure_headers(opts['ME_LOG_WCS'], allow_pickle)
    lines = []
    for entry, pattern in zip(dirs, patterns):
        link = parse_input_dir(entry)
        directories = [entry] if link.kind == 'dir' else RunLog(run_dirs['run_log']).resolve(link)
        out = os.path.join(run_dirs['output'], f'{pattern}_vignet{number}.sqlite')
        n, written, missing = multi_epoch_stamps(input_file_list[0], directories, pattern, headers,
                                                 out, opts['STAMP_SIZE'], log=w_log)
        lines.append(f'{pattern}: {written} stamps for {n} objects ({missing} missing) -> {out}')
    return '\n'.join(lines)


@module_runner(
    version='1.1',
    input_module='sextractor_runner',
    inputs=[Input('catalog', 'tile_sexcat', '.fits'),
            Input('image', 'CFIS_weight', '.fits', optional=True, default=True,
                  doc='MODE = CLASSIC: the image cut into stamps')],
    outputs=[Output('stamps', '{PREFIX}_vignet{num}.fits', 'fits', when='MODE=CLASSIC'),
             Output('stamp_stores', '{ME_IMAGE_PATTERN}_vignet{num}.sqlite', 'sqlite',
                    when='MODE=MULTI-EPOCH')],
    depends=['numpy', 'astropy', 'sqlitedict'],
    numbering_scheme='-000-000',
    options=[
        Option('MODE', 'str', 'CLASSIC', 'CLASSIC or MULTI-EPOCH', choices=('CLASSIC',
                                                                             'MULTI-EPOCH')),
        Option('STAMP_SIZE', 'int', 51, 'Stamp size in pixels (odd)'),
        Option('COORD', 'str', 'PIX', 'PIX (pixel) or SPHE (sky) positions', choices=('PIX',
                                                                                       'SPHE')),
        Option('POSITION_PARAMS', 'list', ['XWIN_IMAGE', 'YWIN_IMAGE'],
               'Catalogue columns of the positions'),
        Option('PREFIX', 'str', 'weight', 'CLASSIC output name: {PREFIX}_vignet{num}.fits'),
        Option('MASKING', 'bool', False, 'CLASSIC: pixels equal to MASK_VALUE become -1e30'),
        Option('MASK_VALUE', 'float', 0.0, 'CLASSIC: value of masked pixels'),
        Option('ME_IMAGE_DIR', 'list', [], 'MULTI-EPOCH: directories (or links) per pattern'),
        Option('ME_IMAGE_PATTERN', 'list', [], 'MULTI-EPOCH: CCD file patterns, e.g. image'),
        Option('ME_LOG_WCS', 'str', '', 'MULTI-EPOCH: exposure header store'),
    ],
)
def vignetmaker_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                       w_log):
    """Cut postage stamps at object positions (one image, or every exposure)."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    if opts['STAMP_SIZE'] % 2 == 0:
        raise ConfigError(f'{where}STAMP_SIZE must be odd')
    if opts['MODE'] == 'MULTI-EPOCH':
        return _multi_epoch(input_file_list, run_dirs, file_number_string, opts, where, w_log,
                            config.pipeline('FILE', 'ALLOW_PICKLE')), ''
    return _classic(input_file_list, run_dirs, file_number_string, opts, where), ''
