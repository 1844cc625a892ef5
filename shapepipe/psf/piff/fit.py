"""Fit an exposure's Piff model from its ``train_star_selection`` file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from shapepipe.errors import ModuleError
from shapepipe.psf.mccd.fit import training_stars
from shapepipe.psf.piff.model import PiffModel, fit_model, save_model

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping


def fit_exposure(
    train_path: str, model_path: str, psf_config: Mapping[str, Any], min_n_stars: int = 20,
    log: logging.Logger | None = None,
) -> PiffModel:
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
