"""Random catalogue of a tile following its footprint and mask (ShapePipe's random_cat)."""

import os

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from shapepipe.io.atomic import atomic_path
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.random_cat_package.random_cat import (
    healpix_mask, random_positions, read_image_header, read_mask,
)
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.rng import make_rng


def _name(base, number):
    """ShapePipe joins with '-': ``random_cat-277-282.fits`` whether or not the
    numbering scheme starts with '-'."""
    return f'{base}{number}' if number.startswith('-') else f'{base}-{number}'


@module_runner(
    version='1.1',
    input_module=['get_images_runner', 'mask_runner'],
    inputs=[Input('image', 'CFIS_image', '.fits', doc='tile image or text header'),
            Input('mask', 'pipeline_flag', '.fits', doc='flag image, 0 where unmasked')],
    outputs=[Output('randoms', '{OUTPUT_FILE_PATTERN}{num}.fits', 'fits'),
             Output('healpix_mask', '{HEALPIX_OUT_FILE_BASE}{num}.fits', 'fits',
                    when='SAVE_MASK_AS_HEALPIX')],
    depends=['numpy', 'astropy', 'astropy_healpix'],
    numbering_scheme='-000-000',
    options=[
        Option('N_RANDOM', 'float', doc='Number of random points, per deg^2 of unmasked area '
                                        'if DENSITY'),
        Option('DENSITY', 'bool', False, 'N_RANDOM is a density per square degree'),
        Option('OUTPUT_FILE_PATTERN', 'str', 'random_cat', 'Output name base'),
        Option('SAVE_MASK_AS_HEALPIX', 'bool', False, 'Also write the mask as a HEALPix map'),
        Option('HEALPIX_OUT_FILE_BASE', 'str', 'mask_hp', 'HEALPix map name base'),
        Option('HEALPIX_OUT_NSIDE', 'int', 1024, 'HEALPix NSIDE of the map'),
    ],
)
def random_cat_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                      w_log):
    """Write random_cat{num}.fits (RA, DEC, x, y, TILE_ID) over the unmasked tile pixels."""
    opts = config.module_options(module_config_sec)
    image_path, mask_path = input_file_list.inputs['image'], input_file_list.inputs['mask']
    wcs = WCS(read_image_header(image_path))
    mask = read_mask(mask_path)
    rng = make_rng(config.run_seed, file_number_string, 'random_cat')
    table, areas = random_positions(mask, wcs, opts['N_RANDOM'], opts['DENSITY'], rng)
    digits = ''.join(c if c.isdigit() else ' ' for c in file_number_string).split()
    tile_id = float('.'.join(digits)) if digits else np.nan
    table['TILE_ID'] = np.full(len(table), tile_id)
    out = os.path.join(run_dirs['output'], _name(opts['OUTPUT_FILE_PATTERN'], file_number_string)
                       + '.fits')
    with atomic_path(out) as tmp:
        table.write(tmp, format='fits')
    lines = [f'{len(table)} random points -> {out}',
             f'total area {areas["total"]:.5f} deg^2, unmasked {areas["unmasked"]:.5f} deg^2']
    if opts['SAVE_MASK_AS_HEALPIX']:
        nside = opts['HEALPIX_OUT_NSIDE']
        values = healpix_mask(mask, wcs, nside)
        hp_table = Table({'flux': values})
        hp_table.meta.update(ORDERING='RING', COORDSYS='G', NSIDE=nside, INDXSCHM='IMPLICIT')
        hp_out = os.path.join(run_dirs['output'],
                              _name(opts['HEALPIX_OUT_FILE_BASE'], file_number_string) + '.fits')
        with atomic_path(hp_out) as tmp:
            hp_table.write(tmp, format='fits')
        lines.append(f'HEALPix mask (NSIDE {nside}) -> {hp_out}')
    w_log.info('; '.join(lines))
    return '\n'.join(lines), ''
