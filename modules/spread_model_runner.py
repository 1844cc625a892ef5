"""Compute SPREAD_MODEL for tile objects (star/galaxy classification)."""

import os

import numpy as np
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.epochs import open_object_store
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.spread_model_package.spread_model import spread_model
from shapepipe.pipeline.options import Option


def mean_psf_sigma(store_path, numbers, scale_ratio, allow_pickle=False):
    """Mean HSM sigma [tile pixels] of each object's epoch PSFs (NaN without PSF)."""
    sigma = np.full(len(numbers), np.nan)
    row_of = {str(number): k for k, number in enumerate(numbers)}
    with open_object_store(store_path, 'PSF store',
                           'rerun psfex_interp_runner (MULTI-EPOCH)', allow_pickle) as store:
        for key, value in store.items():        # one scan, not a query per object
            k = row_of.get(key)
            if k is None or not isinstance(value, dict):
                continue
            values = [e['SHAPES']['SIGMA_PSF_HSM'] for e in value.values()
                      if e['SHAPES']['FLAG_PSF_HSM'] == 0]
            if values:
                sigma[k] = np.mean(values) * scale_ratio
    return sigma


@module_runner(
    version='1.1',
    input_module=['sextractor_runner', 'psfex_interp_runner', 'vignetmaker_runner'],
    inputs=[Input('catalog', 'tile_sexcat', '.fits'), Input('psf', 'galaxy_psf', '.sqlite'),
            Input('weight', 'weight_vignet', '.fits')],
    outputs=[Output('spread_model', '{PREFIX_}sexcat_sm{num}.fits', 'fits')],
    depends=['numpy', 'astropy', 'sqlitedict'],
    numbering_scheme='-000-000',
    options=[
        Option('PREFIX', 'str', '', 'Output name prefix: {PREFIX}_sexcat_sm{num}.fits'),
        Option('PIXEL_SCALE', 'float', 0.1857, 'Tile pixel scale [arcsec]'),
        Option('EXP_PIXEL_SCALE', 'float', 0.187, 'Exposure pixel scale of the PSF sigmas [arcsec]'),
        Option('OUTPUT_MODE', 'str', 'new', 'new: a new catalogue; add: columns added to a copy '
                                            'of the SExtractor catalogue', choices=('new', 'add')),
    ],
)
def spread_model_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                        w_log):
    """SPREAD_MODEL and its error from tile stamps, weights and epoch PSFs."""
    opts = config.module_options(module_config_sec)
    catalog_path, psf_path, weight_path = input_file_list[:3]
    with fits.open(catalog_path) as hdul:
        hdus = [h.copy() for h in hdul]
    objects = hdus[2].data
    weights = fits.getdata(weight_path)
    if len(weights) != len(objects):
        raise InputError(f'{weight_path}: {len(weights)} stamps for {len(objects)} objects')
    sigma = mean_psf_sigma(psf_path, objects['NUMBER'],
                           opts['EXP_PIXEL_SCALE'] / opts['PIXEL_SCALE'],
                           config.pipeline('FILE', 'ALLOW_PICKLE'))
    no_psf = ~np.isfinite(sigma)
    x, y = np.asarray(objects['X_IMAGE'], float), np.asarray(objects['Y_IMAGE'], float)
    sm, err, flag = spread_model(objects['VIGNET'], weights['VIGNET'],
                                 np.where(no_psf, 1.0, sigma), x - np.floor(x + 0.5),
                                 y - np.floor(y + 0.5))
    sm[no_psf], err[no_psf], flag[no_psf] = -1.0, 1.0, 2
    lead = f'{opts["PREFIX"]}_' if opts['PREFIX'] else ''
    out = os.path.join(run_dirs['output'], f'{lead}sexcat_sm{file_number_string}.fits')
    if opts['OUTPUT_MODE'] == 'new':
        table = Table({'NUMBER': objects['NUMBER'], 'MAG': objects['MAG_AUTO'],
                       'SPREAD_MODEL': sm.astype(np.float32),
                       'SPREADERR_MODEL': err.astype(np.float32), 'SPREAD_FLAG': flag})
        with atomic_path(out) as tmp:
            table.write(tmp, format='fits')
    else:
        extra = [fits.Column('SPREAD_MODEL', 'E', array=sm), fits.Column('SPREADERR_MODEL', 'E',
                                                                       array=err),
                 fits.Column('SPREAD_FLAG', 'J', array=flag)]
        cols = [c for c in hdus[2].columns if c.name not in ('SPREAD_MODEL', 'SPREADERR_MODEL',
                                                             'SPREAD_FLAG')]
        hdus[2] = fits.BinTableHDU.from_columns(cols + extra, header=hdus[2].header,
                                                name='LDAC_OBJECTS')
        with atomic_path(out) as tmp:
            fits.HDUList(hdus).writeto(tmp)
    w_log.info('%d objects, %d without PSF (flag 2)', len(sm), int(no_psf.sum()))
    return f'{len(sm)} objects -> {out}', ''
