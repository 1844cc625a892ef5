"""MULTI-EPOCH stamps: for each tile object and each epoch it lies on, the
stamp cut from that exposure's CCD file, stored as
``{NUMBER: {'<exp>-<ccd>': {'VIGNET': stamp}}}`` or ``'empty'``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.epochs import (
    STORE_CHUNK, epoch_groups, find_epoch_file, read_epochs, write_epoch_store,
)
from shapepipe.modules.vignetmaker_package.stamps import cut_stamps, first_image_hdu

if TYPE_CHECKING:
    import logging
    import os


def multi_epoch_stamps(catalog_path: str | os.PathLike, directories: str | Iterable[str],
                       pattern: str, headers: Mapping[str, Any], output_path: str | os.PathLike,
                       size: int, world_position: Sequence[str] = ('XWIN_WORLD', 'YWIN_WORLD'),
                       log: logging.Logger | None = None,
                       chunk: int = STORE_CHUNK) -> tuple[int, int, int]:
    """Write one pattern's store; return (objects, stamps written, stamps missing).

    The CCD files are memory-mapped and the store written ``chunk`` objects
    at a time, so memory does not grow with the tile.
    """
    numbers, objects, epochs = read_epochs(catalog_path)
    ra = np.asarray(objects[world_position[0]], float)
    dec = np.asarray(objects[world_position[1]], float)
    groups = []
    written = missing = 0
    for exposure, ccd, rows, wcs in epoch_groups(epochs, headers):
        path = find_epoch_file(directories, pattern, exposure, ccd, '.fits')
        if path is None or wcs is None:
            missing += len(rows)
            continue
        groups.append((f'{exposure}-{ccd}', rows, (path, wcs)))
        written += len(rows)

    def stamps(source, rows):
        path, wcs = source
        x, y = wcs.all_world2pix(ra[rows], dec[rows], 1)
        try:
            with fits.open(path, memmap=True) as hdul:
                data = first_image_hdu(hdul, path).data
                return [{'VIGNET': stamp} for stamp in cut_stamps(data, x, y, size)]
        except InputError:
            raise
        except (OSError, ValueError, TypeError) as error:
            raise InputError(f'{path}: cannot read ({error})', path=path) from None

    write_epoch_store(output_path, numbers, groups, stamps, chunk)
    if missing and log:
        log.warning('%s: %d object-epochs without a %s file (left out)', output_path, missing,
                    pattern)
    return len(numbers), written, missing
