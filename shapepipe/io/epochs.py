"""Multi-epoch bookkeeping shared by the tile modules: which exposure and CCD
each tile object lies on (the ``EPOCH_i`` HDUs of a tile catalogue), and the
per-object sqlite stores ``{NUMBER: {'<exp>-<ccd>': {...}}}`` (``'empty'``
for objects without any epoch), written and read here with the safe encoding
of :mod:`shapepipe.io.stores` (no pickle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
import os

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.stores import SqliteDict, create_store, open_store


def read_epochs(catalog_path: str | os.PathLike,
                ) -> tuple[np.ndarray, fits.FITS_rec, list[tuple[np.ndarray, np.ndarray]]]:
    """Objects' NUMBER, the LDAC_OBJECTS rows, and per epoch (EXP_NAME, CCD_N) arrays."""
    try:
        with fits.open(catalog_path) as hdul:
            objects = hdul[2].data
            epochs = [(h.data['EXP_NAME'], np.asarray(h.data['CCD_N']))
                      for h in hdul[3:] if h.name.startswith('EPOCH_')]
            return np.asarray(objects['NUMBER']), objects, epochs
    except (OSError, IndexError, KeyError) as error:
        raise InputError(f'{catalog_path}: not a multi-epoch tile catalogue ({error}); run '
                         f'sextractor_runner with MAKE_POST_PROCESS = True', path=catalog_path
                         ) from None


def epoch_groups(epochs: Iterable[tuple[np.ndarray, np.ndarray]], headers: Mapping[str, Any],
                 ) -> Iterator[tuple[str, int, np.ndarray, WCS | None]]:
    """Yield ``(exposure, ccd, rows, wcs)`` for every CCD of every epoch.

    ``rows`` index the objects on that CCD; ``wcs`` is None when the header
    store has no entry for the exposure or CCD.
    """
    for exposure_names, ccds in epochs:
        if not len(ccds):
            continue
        exposure = str(exposure_names[0]).strip()
        wcs_of = {entry['ccd']: entry['WCS'] for entry in headers.get(exposure, [])}
        for ccd in np.unique(ccds[ccds >= 0]):
            wcs = wcs_of.get(ccd)
            if wcs is not None and not isinstance(wcs, WCS):
                wcs = WCS(wcs)
            yield exposure, int(ccd), np.flatnonzero(ccds == ccd), wcs


#: Objects whose epochs are held in memory at once by :func:`write_epoch_store`
#: (a 51 x 51 float32 stamp is 10 KB: ~0.1 GB for 4000 objects of 3 epochs).
STORE_CHUNK = 4000


def write_epoch_store(path: str | os.PathLike, numbers: np.ndarray,
                      groups: Iterable[tuple[str, np.ndarray, Any]],
                      values: Callable[[Any, np.ndarray], Iterable[Any]],
                      chunk: int = STORE_CHUNK) -> None:
    """Write ``{NUMBER: {'<exp>-<ccd>': value}}`` atomically, ``chunk`` objects at a time.

    Parameters
    ----------
    numbers : array
        The objects' NUMBER, in catalogue order.
    groups : list of (key, rows, source)
        Per exposure-CCD: its key ``'<exp>-<ccd>'``, the object rows (indices
        into ``numbers``) on it, and whatever ``values`` needs (a file, a model).
    values : callable
        ``values(source, rows)`` -> one value per row.

    Memory holds one chunk's values, not the whole tile's; the store is the
    same as building the whole dictionary (objects in catalogue order, their
    epochs in ``groups`` order). Objects without an epoch get ``'empty'``.
    """
    with atomic_path(path) as tmp:
        with create_store(tmp) as store:
            for start in range(0, len(numbers), chunk):
                stop = min(start + chunk, len(numbers))
                entries = [{} for _ in range(start, stop)]
                for key, rows, source in groups:
                    inside = rows[(rows >= start) & (rows < stop)]
                    if len(inside):
                        for row, value in zip(inside, values(source, inside)):
                            entries[row - start][key] = value
                for row, entry in zip(range(start, stop), entries):
                    store[str(numbers[row])] = entry if entry else 'empty'
            store.commit()


def find_epoch_file(directories: str | Iterable[str], pattern: str, exposure: str,
                    ccd: int | str, ext: str) -> str | None:
    """``{directory}/{pattern}-{exposure}-{ccd}{ext}`` in the first directory
    that has it, or None."""
    if isinstance(directories, str):
        directories = [directories]
    for directory in directories:
        path = os.path.join(directory, f'{pattern}-{exposure}-{ccd}{ext}')
        if os.path.isfile(path):
            return path
    return None


def open_object_store(path: str, what: str = 'object store',
                      fix: str = 'rerun the module that writes it',
                      allow_pickle: bool = False) -> SqliteDict:
    """A read-only per-object store; InputError naming the file.

    A missing, corrupt, locked or pickled file gives one line (``path: cannot
    open the <what> (<reason>); <fix>``) instead of an exception in
    sqlitedict's thread; ``allow_pickle`` reads ShapePipe-made (pickled)
    stores with :class:`shapepipe.io.stores.RestrictedUnpickler`.
    """
    return open_store(path, what, fix, allow_pickle)


def read_object_entry(store: SqliteDict, number: int | str) -> dict:
    """The epochs ``{'<exp>-<ccd>': value}`` of object ``number``, {} when it has none."""
    entry = store.get(str(number), 'empty')
    return entry if isinstance(entry, dict) else {}
