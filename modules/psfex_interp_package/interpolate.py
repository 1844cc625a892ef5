"""PSF at catalogue positions: CLASSIC (galaxies) and VALIDATION (stars)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from shapepipe.errors import InputError, ModuleError
from shapepipe.modules.psfex_interp_package.psfex_model import PSFExModel
from shapepipe.psf.catalogs import positions as _positions
from shapepipe.psf.catalogs import read_objects  # noqa: F401 (used by other modules)
from shapepipe.psf.catalogs import write_table as _write
from shapepipe.psf.validation_table import classic_table, validation_table

if TYPE_CHECKING:
    from collections.abc import Sequence


def load_model(
    path: str, star_thresh: int, chi2_thresh: float, correct_resampling: bool = True,
) -> PSFExModel:
    """The CCD's model, or ModuleError when it is not good enough."""
    model = PSFExModel(path, correct_resampling)
    if model.accepted < star_thresh:
        raise ModuleError(f'{path}: {model.accepted} accepted stars < STAR_THRESH = '
                          f'{star_thresh}: no PSF for this CCD', path=path)
    if not model.chi2 <= chi2_thresh:
        raise ModuleError(f'{path}: chi2 {model.chi2:.2f} > CHI2_THRESH = {chi2_thresh}: no PSF '
                          f'for this CCD', path=path)
    return model


def classic(
    model: PSFExModel, catalog_path: str, position_params: Sequence[str], output_path: str,
    get_shapes: bool = True,
) -> int:
    """``galaxy_psf{num}.fits``: PSF stamp and HSM shape at every object."""
    table = read_objects(catalog_path)
    x, y = _positions(table, position_params, catalog_path)
    stamps = model.stamps(x, y) if len(x) else np.zeros((0,) + tuple(model.stamp_shape))
    out = classic_table(table, stamps, get_shapes)
    _write(out, output_path)
    return len(out)


def validation(
    model: PSFExModel, star_path: str, position_params: Sequence[str], output_path: str,
) -> Table:
    """``validation_psf{num}.fits``: model and star HSM shapes at validation stars."""
    table = read_objects(star_path)
    x, y = _positions(table, position_params, star_path)
    if 'VIGNET' not in table.colnames:
        raise InputError(f'{star_path} has no VIGNET column: add VIGNET to the SExtractor '
                         f'parameters', path=star_path)
    vignets = np.asarray(table['VIGNET'], float) if len(table) else np.zeros((0, 1, 1))
    size = vignets.shape[-1]
    models = model.stamps(x, y, size=size) if len(x) else np.zeros((0, size, size))
    number = table['NUMBER'] if 'NUMBER' in table.colnames else np.arange(len(x)) + 1
    extra = {name: table[column] for name, column in (
        ('RA', 'XWIN_WORLD'), ('DEC', 'YWIN_WORLD'), ('MAG', 'MAG_AUTO'), ('SNR', 'SNR_WIN'))
        if column in table.colnames}
    out = validation_table(number, x, y, models, vignets, extra, model.accepted, model.chi2)
    _write(out, output_path)
    return out
