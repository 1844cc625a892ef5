"""MULTI-EPOCH mode: the PSF of every contributing epoch at every tile object.

Output: a sqlite store ``{NUMBER: {'<exp>-<ccd>': {'VIGNET': stamp, 'SHAPES':
{E1_PSF_HSM, E2_PSF_HSM, SIGMA_PSF_HSM, FLAG_PSF_HSM}}}}``, with ``'empty'`` for
objects that have no epoch with a PSF model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
import numpy as np

from shapepipe.errors import ModuleError
from shapepipe.io.epochs import (
    STORE_CHUNK, epoch_groups, find_epoch_file, read_epochs, write_epoch_store,
)
from shapepipe.modules.psfex_interp_package.interpolate import load_model
from shapepipe.modules.psfex_interp_package.shapes import hsm_shapes

if TYPE_CHECKING:
    import logging
    import os


def interpolate_epochs(catalog_path: str | os.PathLike, psf_dirs: str | Iterable[str],
                       psf_pattern: str, headers: Mapping[str, Any],
                       output_path: str | os.PathLike,
                       world_position: Sequence[str] = ('XWIN_WORLD', 'YWIN_WORLD'),
                       star_thresh: int = 20, chi2_thresh: float = 2.0,
                       correct_resampling: bool = True, log: logging.Logger | None = None,
                       chunk: int = STORE_CHUNK) -> tuple[int, int, int]:
    """Write the store (``chunk`` objects at a time); return counts (objects,
    epochs written, epochs without PSF)."""
    numbers, objects, epochs = read_epochs(catalog_path)
    ra = np.asarray(objects[world_position[0]], float)
    dec = np.asarray(objects[world_position[1]], float)
    groups = []
    written = missing = 0
    for exposure, ccd, rows, wcs in epoch_groups(epochs, headers):
        path = find_epoch_file(psf_dirs, psf_pattern, exposure, ccd, '.psf')
        model = None
        if path is not None and wcs is not None:
            try:
                model = load_model(path, star_thresh, chi2_thresh, correct_resampling)
            except ModuleError as error:
                if log:
                    log.warning('%s', error)
        if model is None:
            missing += len(rows)
            continue
        groups.append((f'{exposure}-{ccd}', rows, (model, wcs)))
        written += len(rows)

    def psf_entries(source, rows):
        model, wcs = source
        x, y = wcs.all_world2pix(ra[rows], dec[rows], 1)
        stamps = model.stamps(x, y).astype(np.float32)
        e1, e2, sigma, flag = hsm_shapes(stamps)
        return [{'VIGNET': stamps[k],
                 'SHAPES': {'E1_PSF_HSM': float(e1[k]), 'E2_PSF_HSM': float(e2[k]),
                            'SIGMA_PSF_HSM': float(sigma[k]), 'FLAG_PSF_HSM': int(flag[k])}}
                for k in range(len(rows))]

    write_epoch_store(output_path, numbers, groups, psf_entries, chunk)
    return len(numbers), written, missing
