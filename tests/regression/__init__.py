"""Regression catalogues of the simulated test tile: compare and refresh.

The reference catalogues are ``tests/data/regression/*.fits``: the ngmix
catalogue and the final catalogue of the ``test`` preset tile (seed 3, run seed
0) as the tests' session fixture produces them. :func:`compare_catalogues`
compares them HDU by HDU and column by column:

* integer, boolean and string columns must be equal;
* floating-point columns must satisfy ``|new - ref| <= ATOL + RTOL * |ref|``
  element by element (NaN only where the reference has NaN), with the
  tolerances of :data:`TOLERANCES` (``RTOL``/``ATOL`` by default).

Refresh them deliberately, after a change that is meant to alter the results
(review the printed differences first)::

    python -m tests.regression --refresh     # or: make regression-refresh
"""

import os

import numpy as np
from astropy.io import fits

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data',
                    'regression')
REFRESH_VARIABLE = 'SHAPEPIPE_REGRESSION_REFRESH'

RTOL = 1e-6
"""Relative tolerance of floating-point columns: same code, same libraries give
identical numbers; 1e-6 leaves room for another BLAS or CPU, and is far below
any physical change (the shear columns' noise is ~1e-2)."""
ATOL = 1e-9
"""Absolute tolerance (values near zero)."""
TOLERANCES = {}
"""Per-column ``(rtol, atol)`` overrides, by column name."""


def _table_hdus(path: str) -> dict:
    with fits.open(path) as hdul:
        return {(hdu.name or str(i)): hdu.data for i, hdu in enumerate(hdul)
                if isinstance(hdu, fits.BinTableHDU)}


def compare_column(name: str, new, ref) -> str:
    """A one-line difference of one column, or None when within tolerance."""
    new, ref = np.asarray(new), np.asarray(ref)
    if new.shape != ref.shape:
        return f'{name}: shape {new.shape} differs from the reference {ref.shape}'
    if ref.dtype.kind == 'f' or new.dtype.kind == 'f':
        rtol, atol = TOLERANCES.get(name, (RTOL, ATOL))
        new_f, ref_f = new.astype(float), ref.astype(float)
        nan_new, nan_ref = np.isnan(new_f), np.isnan(ref_f)
        if (nan_new != nan_ref).any():
            return f'{name}: NaN in {int((nan_new != nan_ref).sum())} other places'
        diff = np.abs(np.where(nan_ref, 0, new_f - ref_f))
        limit = atol + rtol * np.abs(np.where(nan_ref, 0, ref_f))
        bad = diff > limit
        if bad.any():
            worst = np.unravel_index(np.argmax(diff - limit), diff.shape)
            return (f'{name}: {int(bad.sum())} of {bad.size} values beyond rtol {rtol:g}, '
                    f'atol {atol:g} (worst at {tuple(int(i) for i in worst)}: '
                    f'{new_f[worst]!r} vs {ref_f[worst]!r})')
        return None
    if not np.array_equal(new, ref):
        return f'{name}: {int((new != ref).sum())} of {ref.size} values differ (exact column)'
    return None


def compare_catalogues(new_path: str, ref_path: str) -> list:
    """Lines naming every HDU and column of ``new_path`` that differs from ``ref_path``."""
    new, ref = _table_hdus(new_path), _table_hdus(ref_path)
    problems = []
    if list(new) != list(ref):
        problems.append(f'table HDUs {list(new)} differ from the reference {list(ref)}')
    for hdu in ref:
        if hdu not in new:
            continue
        a, b = new[hdu], ref[hdu]
        names_a, names_b = list(a.columns.names), list(b.columns.names)
        if names_a != names_b:
            problems.append(f'[{hdu}] columns differ: missing {sorted(set(names_b) - set(names_a))}'
                            f', new {sorted(set(names_a) - set(names_b))}'
                            + ('' if set(names_a) != set(names_b) else ', order changed'))
        if len(a) != len(b):
            problems.append(f'[{hdu}] {len(a)} rows, reference {len(b)}')
            continue
        for name in names_b:
            if name in names_a:
                line = compare_column(name, a[name], b[name])
                if line:
                    problems.append(f'[{hdu}] {line}')
    return problems
