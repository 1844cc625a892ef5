"""``shapepipe_shear_bias``: metacalibration shear responses, mean shear, bias and PSF leakage.

Examples::

    shapepipe_shear_bias -i merged_final_cat.fits --g-true 0.02,0 -o bias
    shapepipe_shear_bias -i ngmix-277-282.fits --truth truth.fits --n-boot 500 --seed 3
    shapepipe_shear_bias -i final_cat-277-282.fits --snr-min 15 --size-min 0.7 --no-plots

The input is a final catalogue (HDU ``RESULTS`` with the ``NGMIX_*_{1M,1P,2M,2P,NOSHEAR}``
block) or an ngmix_runner output (HDUs ``1M 1P 2M 2P NOSHEAR``). The responses
``R`` (shear) and ``R_s`` (selection) are measured with finite differences of
step ``--step``; the mean shear is ``<g> = (R + R_s)^-1 <e>``. With a truth
(``--g-true`` for a constant shear, ``--truth`` for a per-object one), the
multiplicative and additive biases m, c are given; the PSF leakage alpha is the
slope of the calibrated ellipticity against the PSF ellipticity. Errors come
from a bootstrap over objects (``--n-boot``, seeded by ``--seed``). A table is
printed; ``shear_bias.json`` and PNG plots are written in ``-o``. See
``docs/shear_bias.md``.
"""

import argparse
import dataclasses
import json
import os
import sys

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path, write_text

MCAL_TYPES = ('1M', '1P', '2M', '2P', 'NOSHEAR')
# (plus, minus) sheared measurements of component j = 0, 1.
SHEAR_PAIRS = (('1P', '1M'), ('2P', '2M'))
MEASUREMENT_KEYS = ('e', 'flags', 'snr', 'T', 'Tpsf')
FLAG_NOT_IN_HDU = 1 << 30      # object of NOSHEAR absent from a sheared HDU (ngmix file)
FINAL_HDU = 'RESULTS'
JSON_NAME = 'shear_bias.json'
PLOT_NAMES = ('shear_bias_ellipticity.png', 'shear_bias_response.png',
              'shear_bias_leakage.png')


@dataclasses.dataclass(frozen=True)
class Cuts:
    """Galaxy selection applied to each metacal measurement.

    An object is kept when ``flags == 0``, ``mcal_flags == 0``, the ellipticity is
    finite, ``snr > snr_min`` (and ``snr < snr_max`` if given) and
    ``T / Tpsf > size_min`` with ``Tpsf > 0``.
    """

    snr_min: float = 10.0
    snr_max: float = None
    size_min: float = 0.5

    def describe(self):
        """One-line text of the cuts, for messages and the table."""
        text = f'flags == 0, S/N > {self.snr_min:g}'
        if self.snr_max is not None:
            text += f', S/N < {self.snr_max:g}'
        return text + f', T/Tpsf > {self.size_min:g}'


def as_cuts(cuts):
    """A :class:`Cuts` from None, a Cuts or a mapping of its fields."""
    if cuts is None:
        return Cuts()
    if isinstance(cuts, Cuts):
        return cuts
    return Cuts(**dict(cuts))


# ---------------------------------------------------------------------------
# Catalogues.
#
# A shear catalogue is a dict of N objects:
#   'id' (N,), 'mcal_flags' (N,), 'psf_e' (N, 2) or None, 'source' (str) and,
#   for each k in MCAL_TYPES, a dict {'e': (N, 2), 'flags', 'snr', 'T', 'Tpsf'}.
# ---------------------------------------------------------------------------

def _final_names(kind):
    return {'e': f'NGMIX_ELL_{kind}', 'flags': f'NGMIX_FLAGS_{kind}',
            'snr': f'NGMIX_SNR_{kind}', 'T': f'NGMIX_T_{kind}', 'Tpsf': f'NGMIX_Tpsf_{kind}'}


FINAL_REQUIRED = tuple(n for k in MCAL_TYPES for n in _final_names(k).values()) + (
    'NGMIX_MCAL_FLAGS', 'NGMIX_ELL_PSFo_NOSHEAR')
NGMIX_REQUIRED = ('id', 'g1', 'g2', 'flags', 's2n', 'T', 'Tpsf')
NGMIX_NOSHEAR_REQUIRED = ('g1_psfo_ngmix', 'g2_psfo_ngmix', 'mcal_flags')


def _column_names(table):
    if hasattr(table, 'dtype') and table.dtype.names:
        return list(table.dtype.names)
    if hasattr(table, 'colnames'):
        return list(table.colnames)
    return list(table.keys())


def _check_columns(names, required, source, where, fix):
    missing = [n for n in required if n not in names]
    if missing:
        shown = ', '.join(missing[:6]) + (f' (and {len(missing) - 6} more)' if len(missing) > 6
                                          else '')
        raise InputError(f'{source}: {where} lacks column(s) {shown}; {fix}', path=source)


def catalog_from_final(table, source='catalogue'):
    """Shear catalogue from a table with the final-catalogue (``NGMIX_*``) columns."""
    _check_columns(_column_names(table), FINAL_REQUIRED, source, f'HDU {FINAL_HDU}',
                   'give a final catalogue made by make_cat from ngmix shapes')
    names = _column_names(table)
    n = len(np.asarray(table['NGMIX_MCAL_FLAGS']))
    catalog = {
        'id': np.asarray(table['NUMBER']) if 'NUMBER' in names else np.arange(n),
        'mcal_flags': np.asarray(table['NGMIX_MCAL_FLAGS']),
        'psf_e': _vector(table['NGMIX_ELL_PSFo_NOSHEAR'], source, 'NGMIX_ELL_PSFo_NOSHEAR'),
        'source': source,
    }
    for kind in MCAL_TYPES:
        cols = _final_names(kind)
        catalog[kind] = {key: (_vector(table[col], source, col) if key == 'e'
                               else np.asarray(table[col]))
                         for key, col in cols.items()}
    return catalog


def _vector(values, source, name):
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise InputError(f'{source}: column {name} has shape {array.shape[1:]} per row, '
                         f'expected a 2-vector (e1, e2)', path=source)
    return array


def _ngmix_measurement(data, rows):
    n = len(rows)
    found = rows >= 0
    measurement = {'e': np.full((n, 2), np.nan), 'flags': np.full(n, FLAG_NOT_IN_HDU),
                   'snr': np.full(n, np.nan), 'T': np.full(n, np.nan),
                   'Tpsf': np.full(n, np.nan)}
    picked = rows[found]
    measurement['e'][found, 0] = np.asarray(data['g1'], float)[picked]
    measurement['e'][found, 1] = np.asarray(data['g2'], float)[picked]
    measurement['flags'][found] = np.asarray(data['flags'])[picked]
    for key, col in (('snr', 's2n'), ('T', 'T'), ('Tpsf', 'Tpsf')):
        measurement[key][found] = np.asarray(data[col], float)[picked]
    return measurement


def catalog_from_ngmix(tables, source='catalogue'):
    """Shear catalogue from the five ngmix_runner tables ``{kind: table}``.

    The NOSHEAR rows define the objects; the sheared tables are matched by ``id``
    (objects missing from one get the flag :data:`FLAG_NOT_IN_HDU` there).
    """
    for kind in MCAL_TYPES:
        required = NGMIX_REQUIRED + (NGMIX_NOSHEAR_REQUIRED if kind == 'NOSHEAR' else ())
        _check_columns(_column_names(tables[kind]), required, source, f'HDU {kind}',
                       'give an ngmix_runner output catalogue')
    noshear = tables['NOSHEAR']
    ids = np.asarray(noshear['id'])
    if len(np.unique(ids)) != len(ids):
        raise InputError(f'{source}: HDU NOSHEAR has repeated ids; the ngmix catalogue is '
                         f'corrupt, re-run ngmix_runner', path=source)
    index = {int(i): k for k, i in enumerate(ids)}
    catalog = {'id': ids, 'source': source,
               'psf_e': np.column_stack([np.asarray(noshear['g1_psfo_ngmix'], float),
                                         np.asarray(noshear['g2_psfo_ngmix'], float)]),
               'mcal_flags': np.asarray(noshear['mcal_flags'])}
    for kind in MCAL_TYPES:
        table_ids = np.asarray(tables[kind]['id'])
        if np.array_equal(table_ids, ids):
            rows = np.arange(len(ids))
        else:
            position = np.full(len(ids), -1)
            for row, object_id in enumerate(table_ids):
                k = index.get(int(object_id))
                if k is not None:
                    position[k] = row
            rows = position
        catalog[kind] = _ngmix_measurement(tables[kind], rows)
    return catalog


def read_catalog(path):
    """Shear catalogue of a final catalogue or ngmix_runner FITS file (detected by HDU names)."""
    path = os.fspath(path)
    formats = 'a final_cat*.fits (HDU RESULTS) or ngmix*.fits (HDUs 1M 1P 2M 2P NOSHEAR)'
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such catalogue; give {formats} with -i', path=path)
    try:
        with fits.open(path, memmap=False) as hdul:
            names = [hdu.name for hdu in hdul]
            if FINAL_HDU in names:
                return catalog_from_final(hdul[FINAL_HDU].data, path)
            if all(kind in names for kind in MCAL_TYPES):
                return catalog_from_ngmix({kind: hdul[kind].data for kind in MCAL_TYPES}, path)
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f'{path}: cannot read the catalogue ({reason}); give {formats}',
                         path=path) from None
    raise InputError(f'{path}: has HDUs {", ".join(names)} only; give {formats}', path=path)


def as_shear_catalog(source):
    """Shear catalogue from a path, a shear-catalogue dict or a final-catalogue table."""
    if isinstance(source, (str, os.PathLike)):
        return read_catalog(source)
    if isinstance(source, dict) and 'NOSHEAR' in source:
        return _validated(source)
    return catalog_from_final(source, 'catalogue')


def _validated(catalog):
    """Check and normalise a shear-catalogue dict given from Python."""
    source = catalog.get('source', 'catalogue')
    missing = [k for k in MCAL_TYPES if k not in catalog]
    if missing:
        raise InputError(f'{source}: shear catalogue lacks {", ".join(missing)}', path=source)
    n = len(np.asarray(catalog['NOSHEAR']['e']))
    result = {'source': source,
              'id': np.asarray(catalog.get('id', np.arange(n))),
              'mcal_flags': np.asarray(catalog.get('mcal_flags', np.zeros(n, int))),
              'psf_e': (None if catalog.get('psf_e') is None
                        else np.asarray(catalog['psf_e'], float))}
    for kind in MCAL_TYPES:
        measurement = catalog[kind]
        lacking = [key for key in MEASUREMENT_KEYS if key not in measurement]
        if lacking:
            raise InputError(f'{source}: measurement {kind} lacks {", ".join(lacking)}',
                             path=source)
        result[kind] = {key: np.asarray(measurement[key], float if key != 'flags' else None)
                        for key in MEASUREMENT_KEYS}
        if result[kind]['e'].shape != (n, 2):
            raise InputError(f'{source}: {kind} e has shape {result[kind]["e"].shape}, expected '
                             f'({n}, 2)', path=source)
        for key in MEASUREMENT_KEYS[1:]:
            if result[kind][key].shape != (n,):
                raise InputError(f'{source}: {kind} {key} has shape {result[kind][key].shape}, '
                                 f'expected ({n},)', path=source)
    return result


def subset_catalog(catalog, rows):
    """The catalogue restricted to ``rows`` (index array or boolean mask)."""
    result = {'source': catalog.get('source', 'catalogue'), 'id': catalog['id'][rows],
              'mcal_flags': catalog['mcal_flags'][rows],
              'psf_e': None if catalog.get('psf_e') is None else catalog['psf_e'][rows]}
    for kind in MCAL_TYPES:
        result[kind] = {key: value[rows] for key, value in catalog[kind].items()}
    return result


def read_truth(path, ids):
    """True shear (N, 2) of the objects ``ids`` from a FITS table; NaN rows where unmatched.

    The table (first table HDU) has an ``id`` or ``NUMBER`` column and ``g1``, ``g2``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such truth catalogue; give a FITS table with id, g1, g2 '
                         f'to --truth', path=path)
    try:
        with fits.open(path, memmap=False) as hdul:
            tables = [h for h in hdul if isinstance(h, (fits.BinTableHDU, fits.TableHDU))]
            if not tables:
                raise InputError(f'{path}: no table HDU; give a FITS table with id, g1, g2',
                                 path=path)
            data = tables[0].data
            names = {n.lower(): n for n in data.columns.names}
            id_name = names.get('id') or names.get('number')
            lacking = [n for n, ok in (('id or NUMBER', id_name), ('g1', 'g1' in names),
                                       ('g2', 'g2' in names)) if not ok]
            if lacking:
                raise InputError(f'{path}: truth table lacks column(s) {", ".join(lacking)}',
                                 path=path)
            truth_ids = np.asarray(data[id_name])
            g = np.column_stack([np.asarray(data[names['g1']], float),
                                 np.asarray(data[names['g2']], float)])
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InputError(f'{path}: cannot read the truth catalogue ({error})', path=path) from None
    ids = np.asarray(ids)
    if len(np.unique(ids)) != len(ids):
        raise InputError(f'{path}: the catalogue ids repeat (a merged catalogue?); '
                         f'a per-object truth needs unique ids, use --g-true instead', path=path)
    index = {int(i): k for k, i in enumerate(truth_ids)}
    rows = np.array([index.get(int(i), -1) for i in ids], dtype=int)
    result = np.full((len(ids), 2), np.nan)
    result[rows >= 0] = g[rows[rows >= 0]]
    return result


# ---------------------------------------------------------------------------
# The math: selections, weighted means, responses, bias, leakage.
# ``weights`` are object multiplicities (bootstrap counts); None means all 1.
# ---------------------------------------------------------------------------

def selection_mask(measurement, cuts, mcal_flags=None):
    """Boolean mask of the objects of one metacal measurement that pass ``cuts``."""
    cuts = as_cuts(cuts)
    e = np.asarray(measurement['e'], float)
    snr = np.asarray(measurement['snr'], float)
    T = np.asarray(measurement['T'], float)
    Tpsf = np.asarray(measurement['Tpsf'], float)
    with np.errstate(divide='ignore', invalid='ignore'):
        size = np.where(Tpsf > 0, T / Tpsf, np.nan)
        mask = ((np.asarray(measurement['flags']) == 0) & np.isfinite(e).all(axis=1)
                & (snr > cuts.snr_min) & (size > cuts.size_min))
        if cuts.snr_max is not None:
            mask &= snr < cuts.snr_max
    if mcal_flags is not None:
        mask &= np.asarray(mcal_flags) == 0
    return mask


def selection_masks(catalog, cuts):
    """``{kind: mask}`` for the five metacal measurements.

    Besides the cuts on its own measurement, every selection requires a finite
    ellipticity in all five measurements, so that the responses are defined.
    """
    complete = np.logical_and.reduce([np.isfinite(catalog[kind]['e']).all(axis=1)
                                      for kind in MCAL_TYPES])
    return {kind: selection_mask(catalog[kind], cuts, catalog.get('mcal_flags')) & complete
            for kind in MCAL_TYPES}


def weighted_mean(values, weights):
    """Mean of rows of ``values`` with ``weights`` (NaN when the weights sum to 0)."""
    total = weights.sum()
    if total <= 0:
        return np.full(np.shape(values)[1:], np.nan)
    mean = weights @ values / total
    if not np.all(np.isfinite(mean)):       # NaN in rows of weight 0: leave them out
        selected = weights > 0
        mean = weights[selected] @ values[selected] / total
    return mean


def without_nan_ellipticities(catalog):
    """The catalogue with non-finite ellipticities set to 0 (such objects are never selected).

    Lets the weighted means run as plain dot products.
    """
    if all(np.isfinite(catalog[kind]['e']).all() for kind in MCAL_TYPES):
        return catalog
    result = dict(catalog)
    for kind in MCAL_TYPES:
        result[kind] = dict(catalog[kind], e=np.where(np.isfinite(catalog[kind]['e']),
                                                      catalog[kind]['e'], 0.0))
    return result


def response_matrices(catalog, masks, step, weights):
    """(R, R_s, <e>) from the selection masks; NaN entries where a selection is empty.

    ``R[i, j] = (<e_i^{jP}> - <e_i^{jM}>) / (2 step)`` over the NOSHEAR selection;
    ``R_s[i, j] = (<e_i^{NOSHEAR}>_{S(jP)} - <e_i^{NOSHEAR}>_{S(jM)}) / (2 step)``.
    """
    e_noshear = catalog['NOSHEAR']['e']
    w_noshear = weights * masks['NOSHEAR']
    shear_response_matrix = np.empty((2, 2))
    selection_response_matrix = np.empty((2, 2))
    for j, (plus, minus) in enumerate(SHEAR_PAIRS):
        shear_response_matrix[:, j] = (weighted_mean(catalog[plus]['e'], w_noshear)
                                       - weighted_mean(catalog[minus]['e'], w_noshear)) / (2 * step)
        selection_response_matrix[:, j] = (
            weighted_mean(e_noshear, weights * masks[plus])
            - weighted_mean(e_noshear, weights * masks[minus])) / (2 * step)
    return shear_response_matrix, selection_response_matrix, weighted_mean(e_noshear, w_noshear)


def calibrate(e, response):
    """Calibrated ellipticities ``(R + R_s)^-1 e`` for rows (N, 2) or one 2-vector."""
    e = np.asarray(e, float)
    try:
        inverse = np.linalg.inv(response)
    except np.linalg.LinAlgError:
        return np.full(e.shape, np.nan)
    return e @ inverse.T


def shear_response(catalog, cuts=None, step=0.01, weights=None):
    """Metacalibration responses and mean shear of a catalogue.

    Parameters
    ----------
    catalog : str, dict or table
        A FITS path, a shear-catalogue dict (see :func:`as_shear_catalog`) or a
        table with the final-catalogue ``NGMIX_*`` columns.
    cuts : Cuts or dict, optional
        Selection (default ``Cuts()``: S/N > 10, T/Tpsf > 0.5).
    step : float
        Metacal shear step of the sheared measurements.
    weights : array, optional
        Per-object weights (e.g. bootstrap multiplicities).

    Returns
    -------
    dict
        ``R``, ``R_s``, ``R_total`` (2x2 arrays), ``mean_e`` and ``mean_g`` (2,),
        ``n_objects``, ``n_selected`` (NOSHEAR) and ``n_selected_sheared``.

    Raises
    ------
    InputError
        When a selection is empty or ``R + R_s`` is singular.
    """
    catalog = as_shear_catalog(catalog)
    cuts = as_cuts(cuts)
    masks = selection_masks(catalog, cuts)
    _check_selections(catalog, masks, cuts)
    n = len(masks['NOSHEAR'])
    weights = np.ones(n) if weights is None else np.asarray(weights, float)
    R, R_s, mean_e = response_matrices(catalog, masks, step, weights)
    total = R + R_s
    if not np.all(np.isfinite(total)) or abs(np.linalg.det(total)) < 1e-12:
        source = catalog.get('source', 'catalogue')
        raise InputError(f'{source}: the response R + R_s is singular ({total.tolist()}); check '
                         f'the sheared measurements and --step', path=source)
    return {'R': R, 'R_s': R_s, 'R_total': total, 'mean_e': mean_e,
            'mean_g': calibrate(mean_e, total), 'n_objects': n,
            'n_selected': int(masks['NOSHEAR'].sum()),
            'n_selected_sheared': {k: int(masks[k].sum()) for k in MCAL_TYPES[:4]}}


def _check_selections(catalog, masks, cuts):
    source = catalog.get('source', 'catalogue')
    for kind in ('NOSHEAR',) + MCAL_TYPES[:4]:
        if not masks[kind].any():
            raise InputError(f'{source}: no object of {len(masks[kind])} passes the cuts '
                             f'({cuts.describe()}) in the {kind} measurement; loosen '
                             f'--snr-min/--size-min or check the catalogue flags', path=source)


def linear_fit(x, y, weights=None):
    """Weighted least-squares line ``y = slope x + intercept``.

    Returns
    -------
    tuple
        (slope, intercept, slope error, intercept error); the errors assume
        independent residuals with a common scatter. NaN when x has no spread.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    keep = (w > 0) & np.isfinite(x) & np.isfinite(y)
    x, y, w = x[keep], y[keep], w[keep]
    total = w.sum()
    if total <= 2:
        return (np.nan,) * 4
    x_mean = w @ x / total
    y_mean = w @ y / total
    spread = w @ (x - x_mean) ** 2
    if spread <= 0:
        return (np.nan,) * 4
    slope = w @ ((x - x_mean) * (y - y_mean)) / spread
    intercept = y_mean - slope * x_mean
    residual_var = w @ (y - intercept - slope * x) ** 2 / (total - 2)
    slope_err = np.sqrt(residual_var / spread)
    intercept_err = np.sqrt(residual_var * (1.0 / total + x_mean ** 2 / spread))
    return slope, intercept, slope_err, intercept_err


def multiplicative_bias(g_est, g_true, weights=None):
    """Multiplicative and additive bias per component from ``g_est = (1 + m) g_true + c``.

    Parameters
    ----------
    g_est : array (2,) or (N, 2)
        Mean calibrated shear, or per-object calibrated ellipticities.
    g_true : array (2,) or (N, 2)
        True shear: constant, or per object (rows matching ``g_est``).
    weights : array (N,), optional
        Per-object weights (selection mask times bootstrap counts).

    Returns
    -------
    dict
        ``m`` and ``c`` (2,). For a component whose true shear is constant,
        ``m = <g_est> / g_true - 1`` (c not determined: NaN) when g_true != 0,
        and ``c = <g_est>`` (m NaN) when g_true == 0. A component with varying
        true shear gets a weighted linear fit: ``m = slope - 1``, ``c = intercept``.
    """
    g_est = np.asarray(g_est, float)
    g_true = np.asarray(g_true, float)
    m = np.full(2, np.nan)
    c = np.full(2, np.nan)
    if g_est.ndim == 1:
        g_est = g_est[np.newaxis, :]
        weights = None
    g_true = np.broadcast_to(g_true, g_est.shape)
    w = np.ones(len(g_est)) if weights is None else np.asarray(weights, float)
    for i in range(2):
        ok = (w > 0) & np.isfinite(g_est[:, i]) & np.isfinite(g_true[:, i])
        if not ok.any():
            continue
        truth = g_true[ok, i]
        if np.all(truth == truth[0]):
            mean = w[ok] @ g_est[ok, i] / w[ok].sum()
            if truth[0] != 0:
                m[i] = mean / truth[0] - 1.0
            else:
                c[i] = mean
        else:
            slope, intercept, _, _ = linear_fit(truth, g_est[ok, i], w[ok])
            m[i] = slope - 1.0
            c[i] = intercept
    return {'m': m, 'c': c}


def psf_leakage(e_cal, psf_e, weights=None):
    """Leakage ``alpha_i``: slope of calibrated ``e_i`` against PSF ``e_i``, per component.

    Returns
    -------
    dict
        ``alpha``, ``alpha_err`` (least-squares error) and ``intercept`` (2,).
    """
    result = {'alpha': np.full(2, np.nan), 'alpha_err': np.full(2, np.nan),
              'intercept': np.full(2, np.nan)}
    if psf_e is None:
        return result
    for i in range(2):
        slope, intercept, slope_err, _ = linear_fit(psf_e[:, i], e_cal[:, i], weights)
        result['alpha'][i], result['alpha_err'][i], result['intercept'][i] = (
            slope, slope_err, intercept)
    return result


def _estimates(catalog, masks, step, g_true, weights):
    """All quantities of one (possibly resampled) catalogue, as a flat dict of arrays."""
    R, R_s, mean_e = response_matrices(catalog, masks, step, weights)
    total = R + R_s
    w_noshear = weights * masks['NOSHEAR']
    estimates = {'R': R, 'R_s': R_s, 'R_total': total, 'mean_e': mean_e,
                 'mean_g': calibrate(mean_e, total)}
    psf_e = catalog.get('psf_e')
    need_objects = psf_e is not None or (g_true is not None and np.ndim(g_true) == 2)
    e_cal = calibrate(catalog['NOSHEAR']['e'], total) if need_objects else None
    if g_true is not None:
        if np.ndim(g_true) == 2:
            bias = multiplicative_bias(e_cal, g_true, w_noshear)
        else:
            bias = multiplicative_bias(estimates['mean_g'], g_true)
        estimates.update(bias)
    leakage = psf_leakage(e_cal, psf_e, w_noshear)
    estimates['alpha'] = leakage['alpha']
    estimates['alpha_fit_err'] = leakage['alpha_err']
    return estimates


def measure_shear_bias(catalog, cuts=None, step=0.01, g_true=None, n_boot=200, rng=0):
    """Responses, mean shear, biases and leakage of a catalogue, with bootstrap errors.

    Parameters
    ----------
    catalog : str, dict or table
        See :func:`shear_response`.
    cuts : Cuts or dict, optional
        Selection cuts.
    step : float
        Metacal shear step.
    g_true : array (2,) or (N, 2), optional
        Constant true shear, or per-object true shear (rows of the catalogue).
    n_boot : int
        Bootstrap resamplings of the objects (responses recomputed each time);
        below 2, only the least-squares leakage error and the mean-shear error
        from the scatter are given.
    rng : numpy.random.Generator or int
        Generator (or seed) of the bootstrap; the global state is never used.

    Returns
    -------
    dict
        Plain Python values: ``n_objects``, ``n_selected``, ``R``, ``R_s``,
        ``R_total``, ``mean_e``, ``mean_g`` and, with a truth, ``m``, ``c``,
        ``alpha``, each estimate with ``<name>_err``.
    """
    catalog = as_shear_catalog(catalog)
    cuts = as_cuts(cuts)
    summary = shear_response(catalog, cuts, step)      # validates the selections
    masks = selection_masks(catalog, cuts)
    n = summary['n_objects']
    if g_true is not None:
        g_true = np.asarray(g_true, float)
        if g_true.shape not in ((2,), (n, 2)):
            raise InputError(f'g_true has shape {g_true.shape}; expected (2,) or ({n}, 2)')
    catalog = without_nan_ellipticities(catalog)
    ones = np.ones(n)
    best = _estimates(catalog, masks, step, g_true, ones)
    rng = np.random.default_rng(rng)
    samples = []
    for _ in range(max(0, int(n_boot))):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        samples.append(_estimates(catalog, masks, step, g_true, counts))
    errors = {}
    for key, value in best.items():
        if key != 'alpha_fit_err':
            errors[key] = bootstrap_std([sample[key] for sample in samples], np.shape(value))
    if len(samples) < 2:
        errors['alpha'] = best['alpha_fit_err']
        selected = masks['NOSHEAR']
        e_cal = calibrate(catalog['NOSHEAR']['e'][selected], best['R_total'])
        errors['mean_g'] = e_cal.std(axis=0, ddof=1) / np.sqrt(max(1, selected.sum()))
    result = {'input': catalog.get('source', 'catalogue'), 'n_objects': n,
              'n_selected': summary['n_selected'],
              'n_selected_sheared': summary['n_selected_sheared'],
              'step': step, 'cuts': dataclasses.asdict(cuts), 'n_boot': int(n_boot),
              'truth': (None if g_true is None else
                        'per-object' if g_true.ndim == 2 else g_true.tolist())}
    for key, value in best.items():
        if key == 'alpha_fit_err':
            continue
        result[key] = _plain(value)
        result[f'{key}_err'] = _plain(errors[key])
    return result


def bootstrap_std(samples, shape):
    """Standard deviation over bootstrap samples, entry by entry (NaN with < 2 finite)."""
    result = np.full(shape, np.nan)
    if len(samples) < 2:
        return result
    stack = np.asarray(samples, float).reshape(len(samples), -1)
    flat = result.reshape(-1)
    for k in range(stack.shape[1]):
        finite = stack[np.isfinite(stack[:, k]), k]
        if len(finite) >= 2:
            flat[k] = finite.std(ddof=1)
    return flat.reshape(shape)


def _plain(value):
    """Nested lists of floats, NaN as None (JSON-ready)."""
    array = np.asarray(value, float)
    if array.ndim == 0:
        return None if not np.isfinite(array) else float(array)
    return [_plain(v) for v in array]


# ---------------------------------------------------------------------------
# Output: table, JSON, plots.
# ---------------------------------------------------------------------------

def _number(value, width=10, digits=5):
    return f'{"n/a":>{width}}' if value is None else f'{value:>{width}.{digits}f}'


def _pm(value, error, digits=5):
    if value is None:
        return 'n/a'
    text = f'{value:+.{digits}f}'
    return text if error is None else f'{text} +- {error:.{digits}f}'


def format_table(result):
    """The printed summary table of a :func:`measure_shear_bias` result."""
    cuts = Cuts(**result['cuts'])
    lines = [f'shear bias of {result["input"]}',
             f'  objects            {result["n_objects"]}',
             f'  selected           {result["n_selected"]} ({cuts.describe()}; step '
             f'{result["step"]:g}; {result["n_boot"]} bootstrap samples)',
             f'  {"":8}{"R":>10}{"+-":>10}{"R_s":>10}{"+-":>10}{"R+R_s":>10}']
    for i in range(2):
        for j in range(2):
            lines.append(f'  {f"{i + 1}{j + 1}":8}{_number(result["R"][i][j])}'
                         f'{_number(result["R_err"][i][j])}{_number(result["R_s"][i][j])}'
                         f'{_number(result["R_s_err"][i][j])}'
                         f'{_number(result["R_total"][i][j])}')
    for i in range(2):
        lines.append(f'  <g{i + 1}>               '
                     f'{_pm(result["mean_g"][i], result["mean_g_err"][i])}')
    if result.get('truth') is not None:
        truth = result['truth']
        lines.append(f'  true shear         {truth if isinstance(truth, str) else truth}')
        for name in ('m', 'c'):
            for i in range(2):
                lines.append(f'  {name}{i + 1}                 '
                             f'{_pm(result[name][i], result[f"{name}_err"][i])}')
    for i in range(2):
        lines.append(f'  alpha{i + 1}             '
                     f'{_pm(result["alpha"][i], result["alpha_err"][i], 4)}')
    return '\n'.join(lines)


def write_json(result, output_dir):
    """Write ``shear_bias.json`` atomically; return its path."""
    path = os.path.join(output_dir, JSON_NAME)
    write_text(path, json.dumps(result, indent=2, allow_nan=False) + '\n')
    return path


def _binned_means(x, y, n_bins=10):
    edges = np.quantile(x, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, x, side='right') - 1, 0, n_bins - 1)
    centres, means, errors = [], [], []
    for b in range(n_bins):
        inside = which == b
        if inside.sum() >= 2:
            centres.append(x[inside].mean())
            means.append(y[inside].mean())
            errors.append(y[inside].std(ddof=1) / np.sqrt(inside.sum()))
    return np.array(centres), np.array(means), np.array(errors)


def make_plots(catalog, result, output_dir):
    """Write the ellipticity, response and leakage PNGs; return their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    catalog = as_shear_catalog(catalog)
    cuts = Cuts(**result['cuts'])
    step = result['step']
    selected = selection_masks(catalog, cuts)['NOSHEAR']
    e = catalog['NOSHEAR']['e'][selected]
    total = np.array(result['R_total'], float)
    paths = [os.path.join(output_dir, name) for name in PLOT_NAMES]

    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    for i in range(2):
        ax = figure.add_subplot(1, 2, i + 1)
        ax.hist(e[:, i], bins=60, range=(-1, 1), histtype='step', color=f'C{i}')
        ax.axvline(float(np.mean(e[:, i])), color='k', lw=0.8)
        ax.set_xlabel(f'e{i + 1} (NOSHEAR, selected)')
        ax.set_ylabel('objects')
        ax.set_title(f'<e{i + 1}> = {np.mean(e[:, i]):+.5f}', fontsize=10)
    _save(figure, paths[0])

    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    for i, (plus, minus) in enumerate(SHEAR_PAIRS):
        per_object = (catalog[plus]['e'][selected, i] - catalog[minus]['e'][selected, i]) / (
            2 * step)
        low, high = np.percentile(per_object, [0.5, 99.5])
        low, high = min(low, total[i, i]), max(high, total[i, i])
        margin = 0.05 * (high - low) + 1e-3
        ax = figure.add_subplot(1, 2, i + 1)
        ax.hist(per_object, bins=80, range=(low - margin, high + margin), histtype='stepfilled',
                color=f'C{i}', alpha=0.6)
        ax.axvline(result['R'][i][i], color='k', lw=0.8, label=f'<R{i + 1}{i + 1}>')
        ax.axvline(total[i, i], color='r', lw=0.8, ls='--', label='R + R_s')
        ax.set_xlabel(f'per-object R{i + 1}{i + 1}')
        ax.set_ylabel('objects')
        ax.legend(fontsize=8)
    _save(figure, paths[1])

    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    psf_e = catalog.get('psf_e')
    e_cal = calibrate(e, total)
    for i in range(2):
        ax = figure.add_subplot(1, 2, i + 1)
        alpha = result['alpha'][i]
        if psf_e is not None and np.isfinite(psf_e[selected, i]).all():
            x = psf_e[selected, i]
            centres, means, errors = _binned_means(x, e_cal[:, i])
            ax.errorbar(centres, means, errors, fmt='o', ms=3, color=f'C{i}')
            if alpha is not None:
                grid = np.percentile(x, [1, 99])
                intercept = np.mean(e_cal[:, i]) - alpha * np.mean(x)
                ax.plot(grid, alpha * grid + intercept, 'k-', lw=0.8,
                        label=f'alpha{i + 1} = {alpha:+.4f}')
                ax.legend(fontsize=8)
        ax.set_xlabel(f'PSF e{i + 1}')
        ax.set_ylabel(f'calibrated e{i + 1} (binned mean)')
    _save(figure, paths[2])
    return paths


def _save(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80)


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------

def parse_g_true(text):
    """``'0.02,0'`` -> (0.02, 0.0)."""
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError:
        values = ()
    if len(values) != 2 or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f'{text!r}: expected two numbers g1,g2, e.g. 0.02,0 '
                                         f'(write --g-true=-0.02,0 for a negative g1)')
    return values


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='shapepipe_shear_bias',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('-i', '--input', required=True,
                        help='final catalogue (HDU RESULTS) or ngmix_runner catalogue')
    parser.add_argument('-o', '--output', default='.',
                        help=f'output directory of {JSON_NAME} and the plots (default .)')
    truth = parser.add_mutually_exclusive_group()
    truth.add_argument('--g-true', type=parse_g_true, metavar='G1,G2',
                       help='constant true shear of a simulation')
    truth.add_argument('--truth', metavar='FILE',
                       help='FITS table of per-object true shear (id or NUMBER, g1, g2)')
    parser.add_argument('--step', type=float, default=0.01, help='metacal shear step (0.01)')
    parser.add_argument('--snr-min', type=float, default=10.0, help='keep S/N > this (10)')
    parser.add_argument('--snr-max', type=float, help='keep S/N < this (no limit)')
    parser.add_argument('--size-min', type=float, default=0.5, help='keep T/Tpsf > this (0.5)')
    parser.add_argument('--n-boot', type=int, default=200, help='bootstrap samples (200)')
    parser.add_argument('--seed', type=int, default=0, help='bootstrap seed (0)')
    parser.add_argument('--no-plots', action='store_true', help='do not write the PNG plots')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    if args.step <= 0:
        parser.error('--step must be positive')
    if args.n_boot < 0:
        parser.error('--n-boot must be 0 or more')
    if args.snr_max is not None and args.snr_max <= args.snr_min:
        parser.error('--snr-max must be above --snr-min')
    cuts = Cuts(args.snr_min, args.snr_max, args.size_min)
    try:
        catalog = read_catalog(args.input)
        g_true = None if args.g_true is None else np.array(args.g_true)
        if args.truth:
            g_true = read_truth(args.truth, catalog['id'])
            matched = np.isfinite(g_true).all(axis=1)
            if not matched.any():
                raise InputError(f'{args.truth}: no object of {args.input} has a true shear '
                                 f'(ids do not match); give the truth of this catalogue',
                                 path=args.truth)
            if not matched.all():
                print(f'shapepipe_shear_bias: {np.sum(~matched)} object(s) without a true shear '
                      f'in {args.truth} left out', file=sys.stderr)
                catalog = subset_catalog(catalog, matched)
                g_true = g_true[matched]
        result = measure_shear_bias(catalog, cuts, args.step, g_true, args.n_boot,
                                    np.random.default_rng(args.seed))
    except InputError as error:
        print(f'shapepipe_shear_bias: error: {error}', file=sys.stderr)
        return 1
    result['seed'] = args.seed
    if args.truth:
        result['truth'] = args.truth
    print(format_table(result))
    try:
        os.makedirs(args.output, exist_ok=True)
        written = [write_json(result, args.output)]
        if not args.no_plots:
            written += make_plots(catalog, result, args.output)
    except OSError as error:
        print(f'shapepipe_shear_bias: error: cannot write to {args.output} '
              f'({error.strerror or error}); give a writable directory with -o', file=sys.stderr)
        return 1
    if args.verbose:
        print('\n'.join(written))
    return 0


if __name__ == '__main__':
    sys.exit(main())
