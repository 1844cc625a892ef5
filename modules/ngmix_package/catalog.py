"""``ngmix{num}.fits``: one binary table per metacal type (HDUs ``1M 1P 2M 2P
NOSHEAR``) with ShapePipe's columns. Pieces measured by ID range are merged by
``merge_sep_cats_runner`` (:func:`shapepipe.modules.merge_sep_cats_package.merge.merge_catalogs`)."""

import numpy as np
from astropy.io import fits

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
