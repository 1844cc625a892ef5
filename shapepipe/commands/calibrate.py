"""``shapepipe_calibrate``: end-to-end shear calibration on simulated twin fields.

Simulates N twin (+g/-g) field pairs (blends, stars, masks, several dithered
exposures, 90-degree rotated galaxy pairs), runs the whole GOLD chain on each
field (PSFEx, detection, star/galaxy selection, stamps, ngmix, make_cat) once
per measurement variant, and reports m and c with jackknife errors, overall
and split by S/N, size and nearest-neighbour distance: a table on stdout,
``calibration.json`` and ``calibration.png``. Fields run in parallel over
cores (joblib) or over MPI ranks (``mpiexec -n K shapepipe_calibrate ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
import argparse
import json
import os
import sys
import time

from shapepipe.errors import ShapePipeError

VARIANTS = {
    'uberseg': {'NEIGHBOUR_MASK': 'auto'},
    'nomask': {'NEIGHBOUR_MASK': 'none'},
    'uberseg_keep': {'NEIGHBOUR_MASK': 'auto', 'NEIGHBOUR_FILL': 'keep'},
    'uberseg_sheared': {'NEIGHBOUR_MASK': 'auto', 'NEIGHBOUR_FILL': 'keep',
                        'NEIGHBOUR_MASK_SHEARED': 'True'},
    'metadetect': {'NEIGHBOUR_MASK': 'none', 'METADETECT': 'True'},
    'metadetect_seg': {'NEIGHBOUR_MASK': 'none', 'METADETECT': 'True', 'METADETECT_MASK': 'True'},
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='shapepipe_calibrate', description=__doc__.split('\n')[0])
    parser.add_argument('-o', '--output', required=True, help='working and output directory')
    parser.add_argument('-n', '--n-pairs', type=int, default=1, help='twin field pairs')
    parser.add_argument('--preset', default='test', choices=('test', 'demo', 'cfis'),
                        help='simulator preset of each field (default test)')
    parser.add_argument('--shear', default='0.02,0', help='shear of the + fields, g1,g2')
    parser.add_argument('--seed', type=int, default=1, help='seed of the first pair')
    parser.add_argument('--variants', default='uberseg,nomask',
                        help=f'measurement variants, among {", ".join(VARIANTS)}')
    parser.add_argument('--grid', type=int, default=3,
                        help='jackknife patches per pair: grid x grid cells')
    parser.add_argument('--snr-min', type=float, default=10.0)
    parser.add_argument('--size-min', type=float, default=0.5)
    parser.add_argument('-j', '--n-jobs', type=int, default=1, help='fields run at once')
    parser.add_argument('--tile-npix', type=int, help='tile size of each field (pixels)')
    parser.add_argument('--galaxy-density', type=float, help='galaxies per arcmin^2')
    parser.add_argument('--n-exposures', type=int, help='dithered exposures per field')
    parser.add_argument('--pair-offset', type=float, default=20.0,
                        help='distance of a galaxy to its rotated copy [arcsec] (default 20: '
                             'the copies do not blend; blends come from random positions)')
    parser.add_argument('--shear-positions', default='groups',
                        choices=('groups', 'field', 'none'),
                        help='lensing of galaxy positions: groups (default: every '
                             'friends-of-friends group sheared about its centre, separations '
                             '< 6 arcsec lensed, twins on the same pixels), field (about the '
                             'field centre), none (shapes only)')
    parser.add_argument('--reuse', action='store_true',
                        help='keep fields already simulated and processed in -o (their '
                             'exposure_branch.done) and variants already measured')
    parser.add_argument('--no-plot', action='store_true')
    args = parser.parse_args(argv)
    args.output = os.path.abspath(args.output)     # the chain runs with the field as cwd
    try:
        args.shear = tuple(float(v) for v in args.shear.split(','))
        assert len(args.shear) == 2 and any(args.shear)
    except (ValueError, AssertionError):
        parser.error(f'--shear {args.shear!r}: give g1,g2 with a non-zero component')
    args.variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        parser.error(f'--variants: unknown {unknown}; use {", ".join(VARIANTS)}')
    if args.n_pairs < 1:
        parser.error('--n-pairs must be at least 1')
    return args


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the shapepipe_run chains)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_fields(args: argparse.Namespace, variants: Mapping[str, Mapping[str, str]],
               field_runner: Callable[..., Any] | None = None,
               ) -> list[tuple[tuple[int, str], dict[str, str], float, float]] | None:
    """Run every field (joblib over cores, or MPI ranks).

    Returns a list of ((pair, sign), {variant: path}, wall s, CPU s) on
    rank 0, None on the other MPI ranks. ``field_runner`` replaces
    :func:`shapepipe.calibrate.fields.run_field` (same arguments).
    """
    from joblib import Parallel, delayed

    from shapepipe.calibrate.fields import SIGNS, run_field

    run_field = field_runner or run_field

    overrides = {key: value for key, value in (('tile_npix', args.tile_npix),
                                               ('galaxy_density', args.galaxy_density),
                                               ('n_exposures', args.n_exposures))
                 if value}
    overrides['pair_offset_arcsec'] = args.pair_offset
    overrides['shear_positions'] = args.shear_positions
    tasks = [(pair, sign) for pair in range(args.n_pairs) for sign in SIGNS]

    def one(pair, sign):
        start = _cpu_seconds()
        wall = time.time()
        paths = run_field(args.output, pair, sign, args.shear, args.seed + pair, variants,
                          args.preset, overrides, reuse=args.reuse)
        return (pair, sign), paths, time.time() - wall, _cpu_seconds() - start

    comm = _mpi()
    if comm is not None:
        mine = [one(*t) for t in tasks[comm.Get_rank()::comm.Get_size()]]
        gathered = comm.gather(mine, root=0)
        if comm.Get_rank() != 0:
            return None
        results = [r for part in gathered for r in part]
    else:
        results = Parallel(n_jobs=args.n_jobs, backend='loky')(delayed(one)(*t) for t in tasks)
    return results


def format_table(name: str, result: Mapping[str, Any]) -> str:
    lines = [f'{name}: {result["n_pairs"]} pair(s), {result["n_patches"]} jackknife patches, '
             f'{result["n_objects"]["plus"]} + {result["n_objects"]["minus"]} detections; '
             f'cuts {result["cuts"]}',
             f'  {"selection":<26}{"N+":>7}{"N-":>7}{"m1":>11}{"+-":>9}{"c1":>11}{"+-":>9}'
             f'{"c2":>11}{"+-":>9}']

    def num(v, width):
        return f'{v:>{width}.5f}' if v is not None else f'{"n/a":>{width}}'

    for entry in [result['overall']] + result['splits'] + result.get('matched', []):
        lines.append(f'  {entry["selection"]:<26}{entry["n_plus"]:>7}{entry["n_minus"]:>7}'
                     + ''.join(num(entry[k], 11) + num(entry[k + '_err'], 9)
                               for k in ('m1', 'c1', 'c2')))
    out = result['response_outliers']
    lines.append(f'  response outliers (|R_ii| > 5): + field {out["plus"]["n"]} (max |R| '
                 f'{out["plus"]["max_abs_R"]:.2f}), - field {out["minus"]["n"]} (max |R| '
                 f'{out["minus"]["max_abs_R"]:.2f})')
    missing = [out[sign].get('n_missing', 0) for sign in ('plus', 'minus')]
    if any(missing):
        lines.append(f'  selected but missing from a sheared catalogue (metadetection '
                     f'selection, no per-object R): + {missing[0]}, - {missing[1]}')
    return '\n'.join(lines)


def make_plot(results: Mapping[str, Mapping[str, Any]], path: str | os.PathLike) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    for k, (name, result) in enumerate(results.items()):
        entries = [result['overall']] + result['splits']
        x = [i + 0.15 * k for i in range(len(entries))]
        y = [e['m1'] if e['m1'] is not None else float('nan') for e in entries]
        err = [e['m1_err'] if e['m1_err'] is not None else 0.0 for e in entries]
        axis.errorbar(x, y, yerr=err, fmt='o', label=name, capsize=2)
    labels = [e['selection'] for e in entries]
    axis.set_xticks(range(len(labels)))
    axis.set_xticklabels(labels, rotation=40, ha='right', fontsize=7)
    axis.axhline(0, color='k', lw=0.5)
    axis.set_ylabel('m1 (jackknife error)')
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None, field_runner: Callable[..., Any] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from shapepipe.calibrate.estimate import calibrate_pairs
    from shapepipe.shear.catalogs import Cuts

    os.makedirs(args.output, exist_ok=True)
    variants = {name: VARIANTS[name] for name in args.variants}
    start = time.time()
    try:
        runs = run_fields(args, variants, field_runner)
        if runs is None:             # MPI rank > 0
            return 0
        cuts = Cuts(snr_min=args.snr_min, size_min=args.size_min)
        results = {}
        for name in variants:
            paths = {key: paths[name] for key, paths, _, _ in runs}
            results[name] = calibrate_pairs(
                paths, args.shear, cuts=cuts, grid=args.grid,
                metadetect=variants[name].get('METADETECT') == 'True')
    except ShapePipeError as error:
        print(f'shapepipe_calibrate: {error}', file=sys.stderr)
        return 1
    timing = {'wall_s': time.time() - start,
              'field_wall_s': sum(r[2] for r in runs),
              'field_cpu_s': sum(r[3] for r in runs)}
    for name, result in results.items():
        print(format_table(name, result))
    print(f'time: {timing["wall_s"]:.0f} s wall for {len(runs)} fields '
          f'({timing["field_wall_s"]:.0f} s summed over fields, {timing["field_cpu_s"]:.0f} s CPU)')
    with open(os.path.join(args.output, 'calibration.json'), 'w') as handle:
        json.dump({'variants': results, 'timing': timing, 'preset': args.preset,
                   'n_pairs': args.n_pairs, 'seed': args.seed}, handle, indent=1)
    if not args.no_plot:
        make_plot(results, os.path.join(args.output, 'calibration.png'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
