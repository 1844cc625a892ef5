"""``log_exp_headers.sqlite``: exposure number -> per-CCD WCS and header.

Later modules (tile post-processing, vignets, PSF interpolation, shapes) read
it with :func:`read_exposure_headers`.
"""

import os
import re

import numpy as np
from sqlitedict import SqliteDict

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

STORE_NAME = 'log_exp_headers.sqlite'


def exposure_key(path):
    """``headers-2113737.npy`` -> ``'2113737'``."""
    match = re.search(r'headers-?(.*)\.npy$', os.path.basename(path))
    if not match:
        raise InputError(f'{path} is not a headers<number>.npy file', path=path)
    return match.group(1).lstrip('-')


def merge_headers(paths, output_dir):
    """Write the store from ``headers*.npy`` files; return its path."""
    out = os.path.join(output_dir, STORE_NAME)
    with atomic_path(out) as tmp:
        with SqliteDict(tmp, autocommit=False) as store:
            for path in paths:
                try:
                    store[exposure_key(path)] = list(np.load(path, allow_pickle=True))
                except (OSError, ValueError) as error:
                    raise InputError(f'{path}: cannot read ({error}); rerun split_exp_runner',
                                     path=path) from None
            store.commit()
    return out


def read_exposure_headers(path):
    """Load the whole store: ``{exposure: [{'ccd', 'WCS', 'header'}, ...]}``."""
    if not os.path.isfile(path):
        raise InputError(f'exposure header store {path} not found: run merge_headers_runner '
                         f'or fix LOG_WCS', path=path)
    try:
        with SqliteDict(path, flag='r') as store:
            return {key: store[key] for key in store}
    except Exception as error:  # sqlite3 errors of a locked or corrupt file
        raise InputError(f'{path}: cannot read the header store ({error})', path=path) from None
