"""The exposures' WCS headers: ``headers<num>.npy`` per exposure (written by
split_exp) and the store ``log_exp_headers.sqlite`` merging them (written by
merge_headers, read by sextractor post-processing, vignetmaker, psfex_interp
and ngmix as ``LOG_WCS``/``ME_LOG_WCS``).

``headers<num>.npy`` is a structured numpy array, one row per CCD, fields
``ccd`` (int32), ``header`` (the CCD's FITS header text, with the SIP WCS),
``wcs`` (the header text of ``WCS.to_fits(relax=True)``), ``naxis1``,
``naxis2``. It is read with ``allow_pickle=False``: ShapePipe wrote an object
array (a pickle) under the same name, which is refused with one line unless
``allow_pickle`` (``[FILE] ALLOW_PICKLE = True``).

The store maps an exposure name (``'2113737'``) to a list of per-CCD dicts
``{'ccd': int, 'WCS': astropy.wcs.WCS, 'header': str}``, values in the safe
encoding of :mod:`shapepipe.io.stores`.
"""

import os
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.stores import (
    PICKLE_FIX, PickleRefused, UnsafePickle, read_store, restricted_loads, store_error,
    wcs_from_text, wcs_to_text, write_store,
)

STORE_NAME = 'log_exp_headers.sqlite'
STORE_FIX = 'run merge_headers_runner or fix LOG_WCS'


def headers_file_name(number: str) -> str:
    """``headers<number>.npy`` (``number`` as in file names, e.g. ``-2113737``)."""
    return f'headers{number}.npy'


def exposure_key(path: str) -> str:
    """``headers-2113737.npy`` -> ``'2113737'``."""
    match = re.search(r'headers-?(.*)\.npy$', os.path.basename(path))
    if not match:
        raise InputError(f'{path} is not a headers<number>.npy file', path=path)
    return match.group(1).lstrip('-')


def write_headers_file(path: str, entries: Sequence[dict]) -> None:
    """Write ``headers<num>.npy`` atomically from ``[{'ccd', 'WCS', 'header'}, ...]``."""
    rows = [(int(e['ccd']), e['header'].encode('ascii'), wcs_to_text(e['WCS']).encode('ascii'),
             *(e['WCS'].pixel_shape or (0, 0))) for e in entries]
    width = max([len(r[1]) for r in rows] + [1])
    wcs_width = max([len(r[2]) for r in rows] + [1])
    table = np.array(rows, dtype=[('ccd', '<i4'), ('header', f'S{width}'),
                                  ('wcs', f'S{wcs_width}'), ('naxis1', '<i8'),
                                  ('naxis2', '<i8')])
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as handle:
            np.save(handle, table, allow_pickle=False)


def _entries_from_table(table):
    entries = []
    for row in table:
        shape = [int(row['naxis1']), int(row['naxis2'])]
        wcs = wcs_from_text(row['wcs'].decode('ascii'), shape if all(shape) else None)
        entries.append({'ccd': int(row['ccd']), 'WCS': wcs,
                        'header': row['header'].decode('ascii')})
    return entries


def _normalised(entries):
    """ShapePipe's entries lack ``ccd``: its header files are in CCD order from 0."""
    out = []
    for index, entry in enumerate(entries):
        entry = dict(entry)
        entry.setdefault('ccd', index)
        out.append(entry)
    return out


def read_headers_file(path: str, allow_pickle: bool = False) -> list[dict]:
    """``[{'ccd', 'WCS', 'header'}, ...]`` of a ``headers<num>.npy`` file.

    A pickled (object) array, as ShapePipe writes, is refused with one line
    unless ``allow_pickle``; then it is read with the restricted unpickler.
    """
    fix = 'rerun split_exp_runner'
    try:
        with open(path, 'rb') as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            dtype = read_header(handle)[2]
            if dtype.hasobject:
                if not allow_pickle:
                    raise PickleRefused('pickled values')
                return _normalised(list(restricted_loads(handle.read())))
            handle.seek(0)
            table = np.load(handle, allow_pickle=False)
        if table.dtype.names is None or 'wcs' not in table.dtype.names:
            raise ValueError(f'not a header table (dtype {table.dtype})')
        return _entries_from_table(table)
    except PickleRefused:
        raise InputError(f'{path}: the header file is a pickle (ShapePipe format), which is '
                         f'not read (unpickling can run code); {PICKLE_FIX}', path=path) from None
    except UnsafePickle as error:
        raise store_error(path, error, 'header file', fix) from None
    except (OSError, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as error:
        raise InputError(f'{path}: cannot read ({error}); {fix}', path=path) from None


def write_exposure_headers(path: str,
                           headers: Mapping | Iterable[tuple[str, list]]) -> None:
    """Write the store ``{exposure: [{'ccd', 'WCS', 'header'}, ...]}`` atomically."""
    write_store(path, headers)


def merge_header_files(paths: Sequence[str], path: str, allow_pickle: bool = False) -> str:
    """Write the store at ``path`` from ``headers*.npy`` files; return ``path``."""
    write_exposure_headers(path, ((exposure_key(p), read_headers_file(p, allow_pickle))
                                  for p in paths))
    return path


def read_exposure_headers(path: str, allow_pickle: bool = False) -> dict[str, list[dict]]:
    """The whole store: ``{exposure: [{'ccd', 'WCS', 'header'}, ...]}``."""
    if not os.path.isfile(path):
        raise InputError(f'exposure header store {path} not found: {STORE_FIX}', path=path)
    headers = read_store(path, 'exposure header store', STORE_FIX, allow_pickle)
    return {key: _normalised(entries) for key, entries in headers.items()}
