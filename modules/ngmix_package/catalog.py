"""``ngmix{num}.fits``: one binary table per metacal type (HDUs ``1M 1P 2M 2P
NOSHEAR``) with ShapePipe's columns; pieces measured by ID range merge."""

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.modules.ngmix_package.measure import COLUMNS, INT_COLUMNS

HDU_ORDER = ('1M', '1P', '2M', '2P', 'NOSHEAR')


def _table(name, columns):
    cols = []
    for key in COLUMNS:
        values = np.asarray(columns[key])
        form = 'K' if key == 'id' else ('J' if key in INT_COLUMNS else 'D')
        cols.append(fits.Column(name=key, format=form, array=values))
    return fits.BinTableHDU.from_columns(cols, name=name)


def write_ngmix_catalog(path, tables):
    """Write ``{type: {column: array}}`` atomically."""
    hdus = [fits.PrimaryHDU()] + [_table(name, tables[name]) for name in HDU_ORDER]
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def empty_tables():
    """Tables without rows (a job whose ID range holds no object)."""
    return {name: {key: np.zeros(0) for key in COLUMNS} for name in HDU_ORDER}


def concatenate_tables(parts):
    """Join ``{type: {column: array}}`` dicts (batches of one job)."""
    if not parts:
        return empty_tables()
    return {name: {key: np.concatenate([np.asarray(p[name][key]) for p in parts])
                   for key in COLUMNS} for name in HDU_ORDER}


def merge_ngmix_catalogs(paths, output):
    """Merge catalogues of the same tile measured by ID range; rows sorted by id.

    Raises InputError on an unreadable file or an id present twice.
    """
    parts = []
    for path in paths:
        try:
            with fits.open(path) as hdul:
                parts.append({name: {key: np.array(hdul[name].data[key]) for key in COLUMNS}
                              for name in HDU_ORDER})
        except (OSError, KeyError) as error:
            raise InputError(f'{path}: not an ngmix catalogue ({error})', path=path) from None
    merged = concatenate_tables(parts)
    ids = merged['NOSHEAR']['id']
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise InputError(f'objects measured twice in {", ".join(paths)} (e.g. id '
                         f'{unique[counts > 1][0]}): the ID ranges overlap')
    order = np.argsort(ids, kind='stable')
    merged = {name: {key: value[order] for key, value in cols.items()}
              for name, cols in merged.items()}
    write_ngmix_catalog(output, merged)
    return len(ids)
