"""Metacalibration calibration: selections, responses (shear and selection),
mean shear, multiplicative and additive bias, PSF leakage, bootstrap errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
import dataclasses

import numpy as np

from shapepipe.errors import InputError
from shapepipe.shear.catalogs import MCAL_TYPES, SHEAR_PAIRS, as_cuts, as_shear_catalog

if TYPE_CHECKING:
    import os

    from astropy.io import fits
    from astropy.table import Table
    from numpy.typing import ArrayLike

    from shapepipe.shear.catalogs import Cuts


# ---------------------------------------------------------------------------
# The math: selections, weighted means, responses, bias, leakage.
# ``weights`` are object multiplicities (bootstrap counts); None means all 1.
# ---------------------------------------------------------------------------

def selection_mask(measurement: Mapping[str, ArrayLike], cuts: Cuts | Mapping[str, Any] | None,
                   mcal_flags: ArrayLike | None = None) -> np.ndarray:
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


def selection_masks(catalog: Mapping[str, Any], cuts: Cuts | Mapping[str, Any] | None,
                    metadetect: bool = False) -> dict[str, np.ndarray]:
    """``{kind: mask}`` for the five metacal measurements.

    Metacal: besides the cuts on its own measurement, every selection requires
    a finite ellipticity in all five measurements, so that the responses are
    defined. Metadetection (``metadetect``): each sheared catalogue is
    selected on its own measurement only (an object may be missing from it).
    """
    complete = np.logical_and.reduce([np.isfinite(catalog[kind]['e']).all(axis=1)
                                      for kind in MCAL_TYPES])
    masks = {}
    for kind in MCAL_TYPES:
        if metadetect:
            complete = np.isfinite(catalog[kind]['e']).all(axis=1)
        masks[kind] = selection_mask(catalog[kind], cuts, catalog.get('mcal_flags')) & complete
    return masks


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of rows of ``values`` with ``weights`` (NaN when the weights sum to 0)."""
    total = weights.sum()
    if total <= 0:
        return np.full(np.shape(values)[1:], np.nan)
    mean = weights @ values / total
    if not np.all(np.isfinite(mean)):       # NaN in rows of weight 0: leave them out
        selected = weights > 0
        mean = weights[selected] @ values[selected] / total
    return mean


def without_nan_ellipticities(catalog: Mapping[str, Any]) -> Mapping[str, Any]:
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


def response_matrices(catalog: Mapping[str, Any], masks: Mapping[str, np.ndarray], step: float,
                      weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def metadetect_response(catalog: Mapping[str, Any], masks: Mapping[str, np.ndarray],
                        step: float, weights: np.ndarray | None,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(R, <e>) of metadetection catalogues (Sheldon et al. 2020, eq. 8).

    ``R[i, j] = (<e_i^{jP}>_{S(jP)} - <e_i^{jM}>_{S(jM)}) / (2 step)``: each
    sheared catalogue is averaged over its own detections and selection, so
    shear, detection and selection responses come as one. Per-object
    differences ``e^{jP} - e^{jM}`` are not used: an object missing from a
    sheared catalogue has no value there (metacal's :func:`response_matrices`
    would average the placeholder in). ``<e>`` is the NOSHEAR mean over S(NOSHEAR).
    """
    weights = np.ones(len(masks['NOSHEAR'])) if weights is None else weights

    def mean(kind):
        e = np.where(masks[kind][:, None], catalog[kind]['e'], 0.0)
        return weighted_mean(e, weights * masks[kind])

    response = np.empty((2, 2))
    for j, (plus, minus) in enumerate(SHEAR_PAIRS):
        response[:, j] = (mean(plus) - mean(minus)) / (2 * step)
    return response, mean('NOSHEAR')


def calibrate(e: ArrayLike, response: ArrayLike) -> np.ndarray:
    """Calibrated ellipticities ``(R + R_s)^-1 e`` for rows (N, 2) or one 2-vector."""
    e = np.asarray(e, float)
    try:
        inverse = np.linalg.inv(response)
    except np.linalg.LinAlgError:
        return np.full(e.shape, np.nan)
    return e @ inverse.T


def shear_response(catalog: str | os.PathLike | Mapping[str, Any] | fits.FITS_rec | Table,
                   cuts: Cuts | Mapping[str, Any] | None = None, step: float = 0.01,
                   weights: ArrayLike | None = None, metadetect: bool = False,
                   ) -> dict[str, Any]:
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
    metadetect : bool
        The catalogue comes from metadetection (``[NGMIX_RUNNER] METADETECT``):
        each sheared catalogue is selected and averaged on its own
        (:func:`metadetect_response`); ``R_s`` is then included in ``R``.

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
    masks = selection_masks(catalog, cuts, metadetect)
    _check_selections(catalog, masks, cuts)
    n = len(masks['NOSHEAR'])
    weights = np.ones(n) if weights is None else np.asarray(weights, float)
    R, R_s, mean_e = _responses(catalog, masks, step, weights, metadetect)
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


def linear_fit(x: ArrayLike, y: ArrayLike, weights: ArrayLike | None = None,
               ) -> tuple[float, float, float, float]:
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


def multiplicative_bias(g_est: ArrayLike, g_true: ArrayLike,
                        weights: ArrayLike | None = None) -> dict[str, np.ndarray]:
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


def psf_leakage(e_cal: ArrayLike, psf_e: ArrayLike,
                weights: ArrayLike | None = None) -> dict[str, np.ndarray]:
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


def _responses(catalog, masks, step, weights, metadetect):
    """(R, R_s, <e>): metacal's, or metadetection's (R_s is then part of R, zero here)."""
    if metadetect:
        R, mean_e = metadetect_response(catalog, masks, step, weights)
        return R, np.zeros((2, 2)), mean_e
    return response_matrices(catalog, masks, step, weights)


def _estimates(catalog, masks, step, g_true, weights, metadetect=False):
    """All quantities of one (possibly resampled) catalogue, as a flat dict of arrays."""
    R, R_s, mean_e = _responses(catalog, masks, step, weights, metadetect)
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


def measure_shear_bias(catalog: str | os.PathLike | Mapping[str, Any] | fits.FITS_rec | Table,
                       cuts: Cuts | Mapping[str, Any] | None = None, step: float = 0.01,
                       g_true: ArrayLike | None = None, n_boot: int = 200,
                       rng: np.random.Generator | int = 0, metadetect: bool = False,
                       ) -> dict[str, Any]:
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
    metadetect : bool
        Metadetection catalogue: see :func:`shear_response`.

    Returns
    -------
    dict
        Plain Python values: ``n_objects``, ``n_selected``, ``R``, ``R_s``,
        ``R_total``, ``mean_e``, ``mean_g`` and, with a truth, ``m``, ``c``,
        ``alpha``, each estimate with ``<name>_err``.
    """
    catalog = as_shear_catalog(catalog)
    cuts = as_cuts(cuts)
    summary = shear_response(catalog, cuts, step, metadetect=metadetect)   # validates
    masks = selection_masks(catalog, cuts, metadetect)
    n = summary['n_objects']
    if g_true is not None:
        g_true = np.asarray(g_true, float)
        if g_true.shape not in ((2,), (n, 2)):
            raise InputError(f'g_true has shape {g_true.shape}; expected (2,) or ({n}, 2)')
    catalog = without_nan_ellipticities(catalog)
    ones = np.ones(n)
    best = _estimates(catalog, masks, step, g_true, ones, metadetect)
    rng = np.random.default_rng(rng)
    samples = []
    for _ in range(max(0, int(n_boot))):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        samples.append(_estimates(catalog, masks, step, g_true, counts, metadetect))
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
              'estimator': 'metadetect' if metadetect else 'metacal',
              'truth': (None if g_true is None else
                        'per-object' if g_true.ndim == 2 else g_true.tolist())}
    for key, value in best.items():
        if key == 'alpha_fit_err':
            continue
        result[key] = _plain(value)
        result[f'{key}_err'] = _plain(errors[key])
    return result


def bootstrap_std(samples: Sequence[ArrayLike], shape: tuple[int, ...]) -> np.ndarray:
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
