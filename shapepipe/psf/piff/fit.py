"""Fit an exposure's Piff model from its ``train_star_selection`` file."""

import numpy as np

from shapepipe.errors import ModuleError
from shapepipe.psf.mccd.fit import training_stars
from shapepipe.psf.piff.model import PiffModel, fit_model, save_model


def fit_exposure(train_path, model_path, psf_config, min_n_stars=20, log=None):
    """Fit, write ``model_path``, return the :class:`PiffModel`."""
    table = training_stars(train_path, min_n_stars, log)
    x, y = np.asarray(table['LOC_POSITION_IMG_LIST'], float).T
    stamps = np.asarray(table['VIGNET_LIST'], float)
    try:
        psf = fit_model(psf_config, stamps, np.asarray(table['MASK_LIST'], float),
                        np.asarray(table['CCD_ID_LIST'], int), x, y, log)
    except ModuleError as error:
        raise ModuleError(f'{train_path}: {error}; no Piff model for this exposure',
                          path=train_path) from None
    save_model(psf, model_path)
    return PiffModel(psf, stamp_size=stamps.shape[-1])
