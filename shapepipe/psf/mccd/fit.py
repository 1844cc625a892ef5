"""Fit an exposure's MCCD model from its ``train_star_selection`` file and
validate it on the ``test_star_selection`` stars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError, ModuleError
from shapepipe.io.atomic import atomic_path
from shapepipe.psf.mccd import settings as mccd_settings
from shapepipe.psf.mccd.model import MCCDModel, fit_model, save_model
from shapepipe.psf.mccd.preprocessing import read_star_file
from shapepipe.psf.mccd.starlet import starlet_filters
from shapepipe.psf.validation_table import validation_table

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from astropy.table import Table

    from shapepipe.psf.piff.model import PiffModel


def snr_weights(snr: np.ndarray) -> np.ndarray:
    """MCCD's SNR weights (its ``mccd_fit`` strategy): SNR / (median + SNR),
    scaled to a maximum of 2, floored at 0.25."""
    weights = snr / (np.median(snr) + snr)
    weights = 2.0 * weights / weights.max()
    return np.maximum(weights, 0.25)


def filters_for(values: Mapping[str, Any], stamp_shape: tuple[int, ...]) -> np.ndarray:
    """FILTER_PATH's filters (a plain .npy), else the starlet filters MCCD uses."""
    path = values['FILTER_PATH']
    if path is None:
        return starlet_filters(stamp_shape, n_scales=3, coarse=True)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read the FILTER_PATH filters ({error})',
                         path=path) from None


def training_stars(train_path: str, min_n_stars: int, log: logging.Logger | None = None) -> Table:
    """The training table without stars with NaN values and without CCDs of
    fewer than ``min_n_stars`` stars (both logged); ModuleError when none is left."""
    table = read_star_file(train_path)
    stars = np.asarray(table['VIGNET_LIST'], float)
    positions = np.asarray(table['GLOB_POSITION_IMG_LIST'], float)
    usable = np.isfinite(stars).all(axis=(1, 2)) & np.isfinite(positions).all(axis=1)
    if not usable.all():
        if log:
            log.warning('%s: %d stars with NaN values dropped', train_path, (~usable).sum())
        table = table[usable]
    ccds = np.asarray(table['CCD_ID_LIST'], int)
    small = [int(c) for c in np.unique(ccds) if (ccds == c).sum() < min_n_stars]
    if small:
        if log:
            log.warning('%s: CCDs %s have fewer than MIN_N_STARS = %d stars: left out',
                        train_path, small, min_n_stars)
        table = table[~np.isin(ccds, small)]
    if not len(table):
        raise ModuleError(f'{train_path}: no CCD with {min_n_stars} usable stars: no PSF model '
                          f'for this exposure', path=train_path)
    return table


def fit_exposure(
    train_path: str, model_path: str, values: Mapping[str, Any], log: logging.Logger | None = None,
    rng: np.random.Generator | None = None,
) -> MCCDModel:
    """Fit the exposure's model and write it to ``model_path``; return the model.

    ``rng`` (the runners: seeded from the run seed and the file number) makes
    the fit reproducible; ``None``: a generator seeded with 0.
    """
    table = training_stars(train_path, values['MIN_N_STARS'], log)
    stars = np.asarray(table['VIGNET_LIST'], float)
    masks = np.asarray(table['MASK_LIST'], float)
    ccds = np.asarray(table['CCD_ID_LIST'], int)
    positions = np.asarray(table['GLOB_POSITION_IMG_LIST'], float)
    weights = None
    if values['USE_SNR_WEIGHTS'] and 'SNR_WIN_LIST' in table.colnames:
        weights = snr_weights(np.asarray(table['SNR_WIN_LIST'], float))
    try:
        model = fit_model(stars, positions, ccds, masks, mccd_settings.instance_kw(values),
                          mccd_settings.fit_kw(values), filters_for(values, stars.shape[1:]),
                          weights, rng)
    except (ValueError, np.linalg.LinAlgError, IndexError) as error:
        raise ModuleError(f'{train_path}: the MCCD fit failed ({error}); no model for this '
                          f'exposure', path=train_path) from None
    if not len(model.ccd_list):
        raise ModuleError(f'{train_path}: MCCD rejected every CCD as an outlier', path=train_path)
    save_model(model, model_path)
    return MCCDModel(model)


def validate_exposure(
    model: MCCDModel | PiffModel, test_path: str, output_path: str, log: logging.Logger | None = None,
) -> int:
    """``validation_psf-<exp>.fits``: model and star shapes at the test stars
    of every CCD, with the CCD number in ``CCD_NB``; return the table length.

    Stars on a CCD without a model get FLAG_PSF_HSM = 2 (no data).
    """
    from astropy.table import vstack
    table = read_star_file(test_path)
    ccds = np.asarray(table['CCD_ID_LIST'], int)
    tables = []
    for ccd in np.unique(ccds):
        rows = table[ccds == ccd]
        vignets = np.asarray(rows['VIGNET_LIST'], float)
        masks = np.asarray(rows['MASK_LIST'], float)
        vignets = np.where(masks > 0, vignets, -1e30)
        x, y = np.asarray(rows['LOC_POSITION_IMG_LIST'], float).T
        if model.has_ccd(ccd):
            models = model.stamps(ccd, x, y)
        else:
            if log:
                log.warning('%s: CCD %d has no MCCD model: its %d validation stars are flagged',
                            test_path, ccd, len(rows))
            models = np.full(vignets.shape, np.nan)
        extra = {'RA': rows['RA_LIST'], 'DEC': rows['DEC_LIST'], 'MAG': rows['MAG_LIST'],
                 'SNR': rows['SNR_WIN_LIST'], 'CCD_NB': np.full(len(rows), ccd, np.int16)}
        n_train = model.n_train.get(int(ccd), 0)
        tables.append(validation_table(rows['NUMBER_LIST'], x, y, models, vignets, extra,
                                       n_train, np.nan))
    out = vstack(tables) if tables else validation_table([], [], [], np.zeros((0, 1, 1)),
                                                         np.zeros((0, 1, 1)))
    with atomic_path(output_path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(out)]).writeto(tmp)
    return len(out)
