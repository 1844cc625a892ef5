"""``shapepipe_shear_bias``: metacalibration shear responses, mean shear, bias and PSF leakage.

Examples::

    shapepipe_shear_bias -i merged_final_cat.fits --g-true 0.02,0 -o bias
    shapepipe_shear_bias -i ngmix-277-282.fits --truth truth.fits --n-boot 500 --seed 3
    shapepipe_shear_bias -i final_cat-277-282.fits --snr-min 15 --size-min 0.7 --no-plots

The input is a final catalogue (HDU ``RESULTS`` with the ``NGMIX_*_{1M,1P,2M,2P,NOSHEAR}``
block) or an ngmix_runner output (HDUs ``1M 1P 2M 2P NOSHEAR``). The responses
``R`` (shear) and ``R_s`` (selection) are measured with finite differences of
step ``--step``; the mean shear is ``<g> = (R + R_s)^-1 <e>``. With
``--metadetect`` (catalogues of ``[NGMIX_RUNNER] METADETECT``) each sheared
catalogue is selected and averaged on its own, ``R = (<e>_1P - <e>_1M) / (2
step)`` (shear, detection and selection response together). With a truth
(``--g-true`` for a constant shear, ``--truth`` for a per-object one), the
multiplicative and additive biases m, c are given; the PSF leakage alpha is the
slope of the calibrated ellipticity against the PSF ellipticity. Errors come
from a bootstrap over objects (``--n-boot``, seeded by ``--seed``). A table is
printed; ``shear_bias.json`` and PNG plots are written in ``-o``. See
``docs/shear_bias.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
import argparse
import json
import os
import sys

import numpy as np

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path, write_text
from shapepipe.shear.calibration import (  # noqa: F401 (the Python interface)
    calibrate, linear_fit, measure_shear_bias, multiplicative_bias, psf_leakage,
    response_matrices, selection_mask, selection_masks, shear_response)
from shapepipe.shear.catalogs import (  # noqa: F401
    SHEAR_PAIRS, Cuts, as_shear_catalog, read_catalog, read_truth, subset_catalog)

__all__ = ['Cuts', 'calibrate', 'linear_fit', 'main', 'measure_shear_bias',
           'multiplicative_bias', 'psf_leakage', 'read_catalog', 'response_matrices',
           'selection_mask', 'selection_masks', 'shear_response']

JSON_NAME = 'shear_bias.json'
PLOT_NAMES = ('shear_bias_ellipticity.png', 'shear_bias_response.png',
              'shear_bias_leakage.png')

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


def format_table(result: Mapping[str, Any]) -> str:
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


def write_json(result: Mapping[str, Any], output_dir: str | os.PathLike) -> str:
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


def make_plots(catalog: str | os.PathLike | Mapping[str, Any], result: Mapping[str, Any],
               output_dir: str | os.PathLike) -> list[str]:
    """Write the ellipticity, response and leakage PNGs; return their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    catalog = as_shear_catalog(catalog)
    cuts = Cuts(**result['cuts'])
    step = result['step']
    metadetect = result.get('estimator') == 'metadetect'
    masks = selection_masks(catalog, cuts, metadetect)
    selected = masks['NOSHEAR']
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
        # Metadetection: only objects measured in both sheared catalogues have one.
        rows = selected & masks[plus] & masks[minus] if metadetect else selected
        per_object = (catalog[plus]['e'][rows, i] - catalog[minus]['e'][rows, i]) / (2 * step)
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

def parse_g_true(text: str) -> tuple[float, float]:
    """``'0.02,0'`` -> (0.02, 0.0)."""
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError:
        values = ()
    if len(values) != 2 or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f'{text!r}: expected two numbers g1,g2, e.g. 0.02,0 '
                                         f'(write --g-true=-0.02,0 for a negative g1)')
    return values


def main(argv: Sequence[str] | None = None) -> int:
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
    parser.add_argument('--metadetect', action='store_true',
                        help='a metadetection catalogue ([NGMIX_RUNNER] METADETECT): each sheared '
                             'catalogue selected and averaged on its own')
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
                                    np.random.default_rng(args.seed), args.metadetect)
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
