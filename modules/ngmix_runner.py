"""Multi-epoch metacalibration shapes of the tile objects (our own metacal,
with ShapePipe's ngmix keys and output columns)."""

import os

import numpy as np

from shapepipe.errors import ConfigError, InputError
from shapepipe.io.epochs import read_epochs
from shapepipe.io.exposure_headers import read_exposure_headers
from shapepipe.io.ngmix_catalog import concatenate_tables, write_ngmix_catalog
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.ngmix_package.measure import Settings, measure
from shapepipe.modules.ngmix_package.noise import position_rng
from shapepipe.modules.ngmix_package.stamp_stores import (ExposureGeometry, gather_epochs,
                                                          open_store)
from shapepipe.modules.ngmix_package.uberseg import TileSegmentation, neighbour_masks
from shapepipe.options import Option, build_settings
from shapepipe.pipeline.rng import make_rng

@module_runner(
    version='1.1',
    input_module=['sextractor_runner', 'vignetmaker_runner', 'psfex_interp_runner'],
    inputs=[Input('catalog', 'tile_sexcat', '.fits', doc='tile catalogue with EPOCH HDUs'),
            Input('image', 'image_vignet', '.sqlite'),
            Input('background', 'background_vignet', '.sqlite', optional=True),
            Input('psf', 'galaxy_psf', '.sqlite'),
            Input('weight', 'weight_vignet', '.sqlite'),
            Input('flag', 'flag_vignet', '.sqlite', optional=True, default=True),
            Input('segmentation', 'tile_segmentation', '.fits', optional=True,
                  doc='tile detection SEGMENTATION check image (uberseg neighbour masks)')],
    outputs=[Output('shapes', 'ngmix{num}.fits', 'fits', 'HDUs 1M 1P 2M 2P NOSHEAR')],
    depends=['numpy', 'scipy', 'galsim', 'numba', 'astropy', 'sqlitedict'],
    numbering_scheme='-000-000',
    options=[
        Option('LOG_WCS', 'str', doc='Exposure header store (merge_headers_runner output)'),
        Option.for_field(Settings, 'mag_zp', 'MAG_ZP', 'float',
                         'Magnitude zero point of the flux-scaled stamps'),
        Option('PIXEL_SCALE', 'float', doc='Exposure pixel scale [arcsec] (ShapePipe key)',
               ignored='each epoch\'s pixel scale comes from its WCS (the centre prior width '
                       'is one pixel)'),
        Option('ID_OBJ_MIN', 'int', -1, 'Smallest object NUMBER measured (-1: no limit)'),
        Option('ID_OBJ_MAX', 'int', -1, 'Largest object NUMBER measured (-1: no limit)'),
        Option.for_field(Settings, 'measurement', 'MEASUREMENT', 'str',
                         'gauss: joint Gaussian fit; moments: adaptive moments',
                         choices=('gauss', 'moments')),
        Option.for_field(Settings, 'sigma_g', 'SHAPE_PRIOR_SIGMA', 'float',
                         'Width of the BA shape prior'),
        Option.for_field(Settings, 'step', 'METACAL_STEP', 'float',
                         'Shear step of the 1p/1m/2p/2m images'),
        Option.for_field(Settings, 'ntry', 'NTRY', 'int',
                         'Fit attempts per object (new guesses after a failure)'),
        Option('BATCH_SIZE', 'int', 256, 'Objects measured together (memory ~ 2 MB each)'),
        Option('POSITION_PARAMS', 'list', ['XWIN_WORLD', 'YWIN_WORLD'],
               'Catalogue columns of the sky positions'),
        Option('NOISE_SEED', 'str', 'position',
               'position: added noise tied to the CCD pixels and per-object streams to the sky '
               'position (twin fields share them); number: seeded by file number and NUMBER '
               '(the rule before issue 15)', choices=('position', 'number')),
        Option('NEIGHBOUR_MASK', 'str', 'auto',
               'uberseg: mask pixels nearer to other detections (needs the tile SEGMENTATION '
               'check image as input); none: no masking; auto: uberseg when a segmentation '
               'input is given', choices=('auto', 'uberseg', 'none')),
        Option.for_field(Settings, 'neighbour_fill', 'NEIGHBOUR_FILL', 'str',
                         'Masked neighbour pixels: noise (replaced by noise, DES uberseg) or keep '
                         '(their light stays in the image, only their weight is 0)',
                         choices=('noise', 'keep')),
        Option.for_field(Settings, 'neighbour_mask_sheared', 'NEIGHBOUR_MASK_SHEARED', 'bool',
                         'Metacal images made from the stamp with the neighbours in, their zero '
                         'weight sheared with each metacal image (bilinear); False: weight and '
                         'fill applied before metacal'),
        Option.for_field(Settings, 'metadetect', 'METADETECT', 'bool',
                         'Detect again on every metacal image (per epoch stamp, matched filter): '
                         'objects not detected get NOT_DETECTED in that type'),
        Option.for_field(Settings, 'metadetect_mask', 'METADETECT_MASK', 'bool',
                         'Metadetect: pixels of other detections of each metacal image get '
                         'weight 0 (its uberseg); False: no neighbour mask, as Sheldon et al.'),
        Option.for_field(Settings, 'warm_start', 'WARM_START', 'bool',
                         'Start the 1p/1m/2p/2m fits from the noshear solution (same starting '
                         'point)'),
    ],
)
def ngmix_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                 w_log):
    """Write ngmix{num}.fits (HDUs 1M 1P 2M 2P NOSHEAR) for the objects in the ID range."""
    opts = config.module_options(module_config_sec)
    where = config.where(module_config_sec)
    roles = input_file_list.inputs
    mask_mode = opts['NEIGHBOUR_MASK']
    if mask_mode == 'auto':
        mask_mode = 'uberseg' if roles.get('segmentation') else 'none'
    if mask_mode == 'uberseg' and not roles.get('segmentation'):
        raise ConfigError(f'{where}NEIGHBOUR_MASK = uberseg needs the tile segmentation image: '
                          f'add CHECKIMAGE = SEGMENTATION to the tile sextractor_runner and '
                          f'tile_segmentation (.fits) to FILE_PATTERN, or set NEIGHBOUR_MASK = '
                          f'none')
    if not opts['LOG_WCS']:
        raise ConfigError(f'{where}LOG_WCS is required (the merge_headers_runner store)')
    numbers, objects, _ = read_epochs(roles['catalog'])
    ra_col, dec_col = opts['POSITION_PARAMS']
    try:
        positions = {int(n): (float(r), float(d)) for n, r, d in
                     zip(numbers, objects[ra_col], objects[dec_col])}
    except KeyError as error:
        raise InputError(f'{roles["catalog"]}: no column {error}; fix POSITION_PARAMS',
                         path=roles['catalog']) from None
    id_min, id_max = opts['ID_OBJ_MIN'], opts['ID_OBJ_MAX']
    chosen = [int(n) for n in numbers
              if (id_min < 0 or n >= id_min) and (id_max < 0 or n <= id_max)]
    allow_pickle = config.pipeline('FILE', 'ALLOW_PICKLE')
    geometry = ExposureGeometry(read_exposure_headers(opts['LOG_WCS'], allow_pickle))
    by_position = opts['NOISE_SEED'] == 'position'
    settings = build_settings(Settings, ngmix_runner.runner_info.options, opts,
                              ntry=max(1, opts['NTRY']),
                              pixel_noise_seed=config.run_seed if by_position else None)
    segmentation = (TileSegmentation(roles['segmentation']) if mask_mode == 'uberseg'
                    else None)
    stores = {role: open_store(roles[role], allow_pickle) for role in
              ('image', 'psf', 'weight', 'flag', 'background') if role in roles}
    parts = []
    try:
        for first in range(0, len(chosen), opts['BATCH_SIZE']):
            batch = chosen[first:first + opts['BATCH_SIZE']]
            epochs = gather_epochs(batch, positions, stores, geometry, log=w_log)
            if segmentation is not None:
                epochs.neighbours = neighbour_masks(epochs, batch, positions, segmentation)
            if by_position:
                rngs = [position_rng(config.run_seed, *positions[n], 'ngmix') for n in batch]
            else:
                rngs = [make_rng(config.run_seed, 'ngmix', file_number_string, n) for n in batch]
            parts.append(measure(np.array(batch), epochs, rngs, settings))
    finally:
        for store in stores.values():
            store.close()
    tables = concatenate_tables(parts)
    out = os.path.join(run_dirs['output'], f'ngmix{file_number_string}.fits')
    write_ngmix_catalog(out, tables)
    flags = np.asarray(tables['NOSHEAR']['mcal_flags'])
    n_ok = int((flags == 0).sum())
    return (f'{len(chosen)} objects ({n_ok} without flags, '
            f'{int((np.asarray(tables["NOSHEAR"]["n_epoch_model"]) == 0).sum())} without '
            f'epochs; neighbour masking: {mask_mode}) -> {out}'), ''
