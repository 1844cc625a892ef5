"""m and c from twin (+g/-g) field pairs, with jackknife errors and splits.

Nothing is matched to the truth, nor between the twins: each field's
catalogue (all pairs' + fields together, and all - fields together) is
calibrated as data, with its shear and selection responses (R + R_s), and

    m_i = (<g_i>_+ - <g_i>_-) / (2 g_i) - 1,    c_j = (<g_j>_+ + <g_j>_-) / 2

for the sheared component(s) i and every component j. The galaxies, their
rotated partners and the pixel noise are identical in the twins, so shape
and pixel noise cancel in the difference. Errors: delete-one jackknife over
patches (a field pair cut into ``grid x grid`` cells of sky position; the
same cells in both twins, so the cancellation is kept inside each sample).

A second, more precise estimate matches each + detection to the detection
at the same place in its twin (the fields, not the truth) and averages
``e_+ - e_-`` over the objects selected in both (``matched``): the shape and
pixel noise then cancel object by object, and the selection, symmetric in
the sign of the shear, adds no first-order bias; objects crossing the cuts
in one field only (which make the unmatched estimate noisy) are left out.

Splits (by S/N, size T/Tpsf and the distance to the nearest detection) are
selections like the main one, made on each metacal measurement, so the
selection response of each bin is included. The nearest-neighbour distance
is a detection property (not sheared by metacal) and selects all five
measurements alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
import numpy as np
from astropy.io import fits
from scipy.spatial import cKDTree

from shapepipe.shear.calibration import (calibrate, metadetect_response, response_matrices,
                                         selection_masks)
from shapepipe.shear.catalogs import MCAL_TYPES, Cuts, read_catalog

if TYPE_CHECKING:
    import os

RESPONSE_OUTLIER = 5.0          # |per-object R_ii| above this is an outlier
SPLITS = {
    'snr': [10, 20, 40, 100, np.inf],
    'size': [0.5, 1.0, 2.0, np.inf],
    'neighbour_arcsec': [0.0, 3.0, 6.0, np.inf],
}


def load_field(path: str | os.PathLike, pair: int, grid: int = 3) -> dict[str, Any]:
    """Shear catalogue of one final catalogue plus positions, patches, neighbours."""
    catalog = read_catalog(path)
    data = fits.getdata(path, 'RESULTS')
    ra = np.asarray(data['XWIN_WORLD'], float)
    dec = np.asarray(data['YWIN_WORLD'], float)
    # Plane coordinates [arcsec] common to twin fields (the projection's declination is
    # rounded, so both twins use the same).
    dec0 = np.radians(np.round(np.median(dec)))
    x = ra * np.cos(dec0) * 3600.0
    y = dec * 3600.0
    points = np.column_stack([x, y])
    distance, _ = cKDTree(points).query(points, k=2)
    catalog['neighbour_arcsec'] = distance[:, 1]
    # Star/galaxy separation as on data (detection properties, not re-measured by metacal):
    # point sources (SPREAD_CLASS 0) and objects in the star masks (IMAFLAGS_ISO) are
    # not galaxies; saturated stars otherwise pass the S/N and size cuts with R ~ 2 and
    # no shear, and dilute m.
    names = data.columns.names
    galaxy = np.ones(len(ra), bool)
    if 'SPREAD_CLASS' in names:
        galaxy &= np.asarray(data['SPREAD_CLASS']) != 0
    if 'IMAFLAGS_ISO' in names:
        galaxy &= np.asarray(data['IMAFLAGS_ISO']) == 0
    catalog['galaxy'] = galaxy
    catalog['xy'] = points
    catalog['pair'] = np.full(len(ra), pair)
    return catalog


def assign_patches(fields: Sequence[dict[str, Any]], grid: int) -> None:
    """Patch number of every object: pair * grid^2 + cell of a grid over the pair's sky.

    The cell edges are computed from the + field and used for both twins.
    """
    edges = {}
    for (pair, sign), catalog in sorted(fields.items(), key=lambda item: item[0][1] != 'plus'):
        if pair not in edges:
            xy = catalog['xy']
            edges[pair] = [np.quantile(xy[:, k], np.linspace(0, 1, grid + 1)[1:-1])
                           for k in (0, 1)]
        ex, ey = edges[pair]
        ix = np.searchsorted(ex, catalog['xy'][:, 0])
        iy = np.searchsorted(ey, catalog['xy'][:, 1])
        catalog['patch'] = pair * grid * grid + iy * grid + ix


def stack(catalogs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One catalogue of several (same keys)."""
    out = {'source': 'stack'}
    for key in ('id', 'mcal_flags', 'neighbour_arcsec', 'patch', 'pair', 'galaxy'):
        if all(key in c for c in catalogs):
            out[key] = np.concatenate([c[key] for c in catalogs])
    out['xy'] = np.concatenate([c['xy'] for c in catalogs])
    for kind in MCAL_TYPES:
        out[kind] = {key: np.concatenate([c[kind][key] for c in catalogs])
                     for key in catalogs[0][kind]}
    return out


def masks_for(catalog: Mapping[str, Any], cuts: Cuts | Mapping[str, Any] | None,
              bin_key: str | None = None, low: float | None = None,
              high: float | None = None, metadetect: bool = False) -> dict[str, np.ndarray]:
    """Selections of the five measurements (:func:`selection_masks`: metacal
    needs an object's five measurements, metadetection selects each sheared
    catalogue on its own), restricted to galaxies and optionally to a bin."""
    masks = selection_masks(catalog, cuts, metadetect)
    for kind, m in masks.items():
        if 'galaxy' in catalog:
            m &= catalog['galaxy']
        if bin_key == 'snr':
            value = catalog[kind]['snr']
        elif bin_key == 'size':
            with np.errstate(divide='ignore', invalid='ignore'):
                value = catalog[kind]['T'] / catalog[kind]['Tpsf']
        elif bin_key is not None:
            value = catalog[bin_key]
        if bin_key is not None:
            m &= (value >= low) & (value < high)
    return masks


def mean_shear(catalog: Mapping[str, Any], masks: Mapping[str, np.ndarray], step: float,
               weights: np.ndarray | None, metadetect: bool = False) -> np.ndarray:
    """Calibrated mean shear of a selection: ``(R + R_s)^-1 <e>`` (metacal) or
    ``R_md^-1 <e>`` with the response of the separately selected sheared
    catalogues (metadetection, :func:`metadetect_response`)."""
    if metadetect:
        response, mean_e = metadetect_response(catalog, masks, step, weights)
        return calibrate(mean_e, response)
    clean = dict(catalog)
    for kind in MCAL_TYPES:
        clean[kind] = dict(catalog[kind], e=np.nan_to_num(catalog[kind]['e']))
    R, R_s, mean_e = response_matrices(clean, masks, step, weights)
    return calibrate(mean_e, R + R_s)


def bias(plus: Mapping[str, Any], minus: Mapping[str, Any], masks_plus: Mapping[str, np.ndarray],
         masks_minus: Mapping[str, np.ndarray], shear: Sequence[float], step: float,
         w_plus: np.ndarray | None, w_minus: np.ndarray | None,
         metadetect: bool = False) -> np.ndarray:
    """m (per sheared component, NaN otherwise) and c from the twin stacks."""
    g_plus = mean_shear(plus, masks_plus, step, w_plus, metadetect)
    g_minus = mean_shear(minus, masks_minus, step, w_minus, metadetect)
    shear = np.asarray(shear, float)
    with np.errstate(divide='ignore', invalid='ignore'):
        m = np.where(shear != 0, (g_plus - g_minus) / (2 * shear) - 1.0, np.nan)
    c = (g_plus + g_minus) / 2.0
    return np.concatenate([m, c])


def jackknife(plus: Mapping[str, Any], minus: Mapping[str, Any],
              masks_plus: Mapping[str, np.ndarray], masks_minus: Mapping[str, np.ndarray],
              shear: Sequence[float], step: float,
              metadetect: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and delete-one jackknife error of (m1, m2, c1, c2)."""
    full = bias(plus, minus, masks_plus, masks_minus, shear, step,
                np.ones(len(plus['id'])), np.ones(len(minus['id'])), metadetect)
    patches = np.union1d(plus['patch'], minus['patch'])
    samples = []
    for patch in patches:
        samples.append(bias(plus, minus, masks_plus, masks_minus, shear, step,
                            (plus['patch'] != patch).astype(float),
                            (minus['patch'] != patch).astype(float), metadetect))
    samples = np.array(samples)
    k = len(patches)
    error = np.sqrt((k - 1) / k * ((samples - samples.mean(axis=0)) ** 2).sum(axis=0))
    return full, error


def response_outliers(catalog: Mapping[str, Any], masks: Mapping[str, np.ndarray], step: float,
                      limit: float = RESPONSE_OUTLIER) -> dict[str, int | float]:
    """Selected objects whose per-object |R_11| or |R_22| exceeds ``limit``.

    A per-object response ``(e^{1P} - e^{1M}) / (2 step)`` exists only where
    the object was measured in both sheared images (``flags == 0`` there):
    with metadetection an object may be missing from a sheared catalogue (its
    values there are placeholders, -10), which is selection, not a response;
    those are counted as ``n_missing`` (selected in NOSHEAR, absent from a
    sheared measurement). ``n`` and ``max_abs_R`` are over the rest.
    """
    sel = masks['NOSHEAR']
    measured = {kind: np.asarray(catalog[kind]['flags']) == 0 for kind in MCAL_TYPES}
    both1 = sel & measured['1P'] & measured['1M']
    both2 = sel & measured['2P'] & measured['2M']
    r11 = (catalog['1P']['e'][:, 0] - catalog['1M']['e'][:, 0]) / (2 * step)
    r22 = (catalog['2P']['e'][:, 1] - catalog['2M']['e'][:, 1]) / (2 * step)
    bad = (both1 & (np.abs(r11) > limit)) | (both2 & (np.abs(r22) > limit))
    values = np.abs(np.concatenate([r11[both1], r22[both2]]))
    return {'n': int(bad.sum()), 'n_missing': int((sel & ~(both1 & both2)).sum()),
            'max_abs_R': float(np.nanmax(values)) if len(values) else float('nan')}


def match_twins(plus: Mapping[str, Any], minus: Mapping[str, Any],
                radius: float = 1.0) -> np.ndarray:
    """Index into ``minus`` of each + detection's twin (-1 if none within ``radius`` arcsec).

    The twins are the same fields sheared the other way: a detection's twin
    is the mutually nearest detection, within ``radius``. Isolated galaxies
    and the brightest of each lensed group keep their place; fainter group
    members move by 2 g times their distance to it (0.12" at 3" for g =
    0.02; ``shapepipe.simulation.sources.lens_positions``).
    """
    index = -np.ones(len(plus['id']), int)
    for pair in np.unique(plus['pair']):
        p_rows = np.flatnonzero(plus['pair'] == pair)
        m_rows = np.flatnonzero(minus['pair'] == pair)
        if not len(m_rows) or not len(p_rows):
            continue
        distance, nearest = cKDTree(minus['xy'][m_rows]).query(plus['xy'][p_rows])
        _, back = cKDTree(plus['xy'][p_rows]).query(minus['xy'][m_rows])
        close = (distance < radius) & (back[nearest] == np.arange(len(p_rows)))
        index[p_rows[close]] = m_rows[nearest[close]]
    return index


def matched_bias(plus: Mapping[str, Any], minus: Mapping[str, Any], twin: np.ndarray,
                 sel: np.ndarray, shear: Sequence[float], step: float,
                 weights: np.ndarray, md_masks: tuple | None = None) -> np.ndarray:
    """m, c from twin-matched objects selected in both fields (shape noise cancels object by
    object; the symmetric selection leaves no first-order selection bias).

    ``md_masks`` (metadetection): (plus masks, minus masks) of the five
    catalogues; the response is then :func:`metadetect_response` of each
    field over its matched objects (each sheared catalogue with its own
    selection), averaged over the twins, instead of per-object differences.
    """
    e_p = plus['NOSHEAR']['e'][sel]
    e_m = minus['NOSHEAR']['e'][twin[sel]]
    w = weights[sel]
    response = np.zeros(2)
    if md_masks is not None:
        matched = twin >= 0
        w_minus = np.zeros(len(minus['id']))
        w_minus[twin[matched]] = weights[matched]
        for cat, masks, wc in ((plus, md_masks[0], weights * matched),
                               (minus, md_masks[1], w_minus)):
            response += np.diag(metadetect_response(cat, masks, step, wc)[0]) / 2
    else:
        for i, (p_kind, m_kind) in enumerate((('1P', '1M'), ('2P', '2M'))):
            for cat, rows in ((plus, np.flatnonzero(sel)), (minus, twin[sel])):
                r = (cat[p_kind]['e'][rows, i] - cat[m_kind]['e'][rows, i]) / (2 * step)
                response[i] += np.sum(w * r) / np.sum(w) / 2
    diff = np.sum(w[:, None] * (e_p - e_m), axis=0) / np.sum(w) / 2
    summ = np.sum(w[:, None] * (e_p + e_m), axis=0) / np.sum(w) / 2
    shear = np.asarray(shear, float)
    with np.errstate(divide='ignore', invalid='ignore'):
        m = np.where(shear != 0, diff / (shear * response) - 1.0, np.nan)
    return np.concatenate([m, summ / response])


def matched_jackknife(plus: Mapping[str, Any], minus: Mapping[str, Any], twin: np.ndarray,
                      sel: np.ndarray, shear: Sequence[float], step: float,
                      md_masks: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Twin-matched (m1, m2, c1, c2) and their jackknife errors over patches."""
    full = matched_bias(plus, minus, twin, sel, shear, step, np.ones(len(sel)), md_masks)
    patches = np.unique(plus['patch'][sel])
    samples = np.array([matched_bias(plus, minus, twin, sel, shear, step,
                                     (plus['patch'] != patch).astype(float), md_masks)
                        for patch in patches])
    k = len(patches)
    error = np.sqrt((k - 1) / k * ((samples - samples.mean(axis=0)) ** 2).sum(axis=0))
    return full, error


def _entry(name, values, errors, n_plus, n_minus):
    keys = ('m1', 'm2', 'c1', 'c2')
    entry = {'selection': name, 'n_plus': n_plus, 'n_minus': n_minus}
    for key, value, error in zip(keys, values, errors):
        entry[key] = None if not np.isfinite(value) else float(value)
        entry[key + '_err'] = None if not np.isfinite(error) else float(error)
    return entry


def calibrate_pairs(paths: Mapping[tuple[int, str], str], shear: Sequence[float],
                    step: float = 0.01, cuts: Cuts | Mapping[str, Any] | None = None,
                    grid: int = 3, splits: Mapping[str, Sequence[float]] = SPLITS,
                    metadetect: bool = False) -> dict[str, Any]:
    """m and c of twin field pairs.

    Parameters
    ----------
    paths : dict
        ``(pair, 'plus'|'minus') -> final catalogue path``.
    shear : (g1, g2)
        The + field's shear.
    metadetect : bool
        The catalogues come from metadetection (``METADETECT = True``): each
        sheared catalogue is selected on its own and the response is that of
        the catalogue means (:func:`metadetect_response`), never per object.

    Returns
    -------
    dict
        ``overall`` and ``splits`` (lists of entries with m1, m2, c1, c2, their
        ``_err`` and the numbers of selected objects), ``response_outliers``,
        ``n_pairs``, ``n_objects``.
    """
    cuts = cuts or Cuts()
    fields = {key: load_field(path, key[0]) for key, path in paths.items()}
    assign_patches(fields, grid)
    plus = stack([fields[k] for k in sorted(fields) if k[1] == 'plus'])
    minus = stack([fields[k] for k in sorted(fields) if k[1] == 'minus'])

    def one(name, bin_key=None, low=None, high=None):
        mp = masks_for(plus, cuts, bin_key, low, high, metadetect)
        mm = masks_for(minus, cuts, bin_key, low, high, metadetect)
        n_plus, n_minus = int(mp['NOSHEAR'].sum()), int(mm['NOSHEAR'].sum())
        if min(n_plus, n_minus) < 2:
            return _entry(name, [np.nan] * 4, [np.nan] * 4, n_plus, n_minus)
        values, errors = jackknife(plus, minus, mp, mm, shear, step, metadetect)
        return _entry(name, values, errors, n_plus, n_minus)

    result = {'shear': list(map(float, shear)), 'step': step, 'cuts': cuts.describe(),
              'n_pairs': len({k[0] for k in paths}), 'n_patches': int(
                  len(np.union1d(plus['patch'], minus['patch']))),
              'n_objects': {'plus': len(plus['id']), 'minus': len(minus['id'])},
              'overall': one('all')}
    result['splits'] = []
    for key, edges in splits.items():
        for low, high in zip(edges[:-1], edges[1:]):
            result['splits'].append(one(f'{key} [{low:g}, {high:g})', key, low, high))
    twin = match_twins(plus, minus)
    both = (twin >= 0)
    masks_minus = masks_for(minus, cuts, metadetect=metadetect)['NOSHEAR']
    both &= (masks_for(plus, cuts, metadetect=metadetect)['NOSHEAR']
             & np.where(twin >= 0, masks_minus[twin], False))
    result['n_matched'] = int((twin >= 0).sum())

    def matched(name, rows, low=None, high=None):
        n_sel = int(rows.sum())
        if n_sel < 2:
            return _entry(name, [np.nan] * 4, [np.nan] * 4, n_sel, n_sel)
        md_masks = None
        if metadetect:
            key = None if low is None else 'neighbour_arcsec'
            md_masks = tuple(masks_for(cat, cuts, key, low, high, True) for cat in (plus, minus))
        values, errors = matched_jackknife(plus, minus, twin, rows, shear, step, md_masks)
        return _entry(name, values, errors, n_sel, n_sel)

    result['matched'] = [matched('all (twin-matched)', both)]
    for low, high in zip(SPLITS['neighbour_arcsec'][:-1], SPLITS['neighbour_arcsec'][1:]):
        near = (plus['neighbour_arcsec'] >= low) & (plus['neighbour_arcsec'] < high)
        result['matched'].append(matched(f'neighbour [{low:g}, {high:g}) matched',
                                         both & near, low, high))
    result['metadetect'] = bool(metadetect)
    result['response_outliers'] = {
        sign: response_outliers(cat, masks_for(cat, cuts, metadetect=metadetect), step)
        for sign, cat in (('plus', plus), ('minus', minus))}
    return result
