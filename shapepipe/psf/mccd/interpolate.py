"""MCCD (or Piff) PSFs at object positions: CLASSIC (one CCD's catalogue), VALIDATION
(one CCD's validation stars) and MULTI-EPOCH (every epoch of a tile object).

The outputs are those of ``psfex_interp_runner``: ``galaxy_psf<num>.fits``,
``validation_psf<num>.fits`` and the MULTI-EPOCH store, so vignetmaker,
spread_model, ngmix and make_cat read them unchanged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from shapepipe.errors import InputError, ModuleError
from shapepipe.io.epochs import STORE_CHUNK, epoch_groups, read_epochs, write_epoch_store
from shapepipe.psf.mccd.model import MCCDModel
from shapepipe.psf.catalogs import positions as _positions
from shapepipe.psf.catalogs import read_objects
from shapepipe.psf.catalogs import write_table as _write
from shapepipe.psf.shapes import psf_store_entries
from shapepipe.psf.validation_table import classic_table, validation_table

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence

    from shapepipe.psf.piff.model import PiffModel


def model_path(
    model_dir: str, pattern: str, separator: str, exposure: str, ext: str = '.npz',
) -> str:
    """``<dir>/<pattern><sep><exposure><ext>``."""
    return os.path.join(model_dir, f'{pattern}{separator}{exposure}{ext}')


def load_exposure_model(
    path: str, loader: Callable[[str], MCCDModel | PiffModel] = MCCDModel,
) -> MCCDModel | PiffModel:
    """``loader(path)`` (MCCDModel, PiffModel), or ModuleError naming the file when absent."""
    if not os.path.isfile(path):
        raise ModuleError(f'{path}: no PSF model for this exposure (its fit failed or did not '
                          f'run): no PSF for this CCD', path=path)
    return loader(path)


def classic(
    model: MCCDModel | PiffModel, ccd: int, catalog_path: str, position_params: Sequence[str],
    output_path: str, get_shapes: bool = True,
) -> int:
    """``galaxy_psf<num>.fits``: PSF stamp (and HSM shape) at every object of the CCD."""
    if not model.has_ccd(ccd):
        raise ModuleError(f'{catalog_path}: CCD {ccd} has no PSF model (too few stars or '
                          f'rejected in the fit): no PSF for this CCD', path=catalog_path)
    table = read_objects(catalog_path)
    x, y = _positions(table, position_params, catalog_path)
    stamps = model.stamps(ccd, x, y)
    out = classic_table(table, stamps, get_shapes)
    _write(out, output_path)
    return len(out)


def validation(
    model: MCCDModel | PiffModel, ccd: int, star_path: str, position_params: Sequence[str], output_path: str,
) -> int:
    """``validation_psf<num>.fits`` for one CCD's validation stars, as psfex_interp."""
    if not model.has_ccd(ccd):
        raise ModuleError(f'{star_path}: CCD {ccd} has no PSF model: no validation',
                          path=star_path)
    table = read_objects(star_path)
    x, y = _positions(table, position_params, star_path)
    if 'VIGNET' not in table.colnames:
        raise InputError(f'{star_path} has no VIGNET column: add VIGNET to the SExtractor '
                         f'parameters', path=star_path)
    vignets = np.asarray(table['VIGNET'], float)
    number = table['NUMBER'] if 'NUMBER' in table.colnames else np.arange(len(x)) + 1
    extra = {name: table[column] for name, column in (
        ('RA', 'XWIN_WORLD'), ('DEC', 'YWIN_WORLD'), ('MAG', 'MAG_AUTO'), ('SNR', 'SNR_WIN'))
        if column in table.colnames}
    out = validation_table(number, x, y, model.stamps(ccd, x, y), vignets, extra,
                           model.n_train.get(int(ccd), 0))
    _write(out, output_path)
    return len(out)


def interpolate_epochs(
    catalog_path: str, model_dir: str, pattern: str, separator: str,
    headers: Mapping[str, list[dict]], output_path: str,
    world_position: Sequence[str] = ('XWIN_WORLD', 'YWIN_WORLD'), log: logging.Logger | None = None,
    chunk: int = STORE_CHUNK, ext: str = '.npz', loader: Callable[[str], MCCDModel | PiffModel] = MCCDModel,
) -> tuple[int, int, int]:
    """The MULTI-EPOCH store; return counts (objects, epochs written, epochs without PSF)."""
    numbers, objects, epochs = read_epochs(catalog_path)
    try:
        ra = np.asarray(objects[world_position[0]], float)
        dec = np.asarray(objects[world_position[1]], float)
    except KeyError as error:
        raise InputError(f'{catalog_path}: no column {error}; fix POSITION_PARAMS',
                         path=catalog_path) from None
    models = {}
    groups = []
    written = missing = 0
    for exposure, ccd, rows, wcs in epoch_groups(epochs, headers):
        if exposure not in models:
            try:
                models[exposure] = load_exposure_model(
                    model_path(model_dir, pattern, separator, exposure, ext), loader)
            except (ModuleError, InputError) as error:
                models[exposure] = None
                if log:
                    log.warning('%s', error)
        model = models[exposure]
        if model is None or wcs is None or not model.has_ccd(ccd):
            if log and model is not None and wcs is not None:
                log.warning('exposure %s CCD %d has no PSF model: %d object-epochs without PSF',
                            exposure, ccd, len(rows))
            missing += len(rows)
            continue
        groups.append((f'{exposure}-{ccd}', rows, (model, ccd, wcs)))
        written += len(rows)

    def psf_entries(source, rows):
        model, ccd, wcs = source
        x, y = wcs.all_world2pix(ra[rows], dec[rows], 1)
        return psf_store_entries(model.stamps(ccd, x, y))

    write_epoch_store(output_path, numbers, groups, psf_entries, chunk)
    return len(numbers), written, missing
