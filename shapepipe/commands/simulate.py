"""``shapepipe_simulate``: write a CFIS-like simulated field with its truth."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import TYPE_CHECKING

from shapepipe.errors import ShapePipeError

if TYPE_CHECKING:
    from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        prog='shapepipe_simulate',
        description='Simulate CFIS-like exposures and a tile, with star catalogues and truth.fits.')
    parser.add_argument('-o', '--output', required=True,
                        help='output directory (a $SP_RUN-style directory)')
    parser.add_argument('--preset', default='demo', choices=('demo', 'cfis', 'test', 'tiles2x2'),
                        help='demo: 3 exposures x 4 CCDs, 0.1 deg tile; cfis: 40 CCDs, '
                             'full 0.5 deg tile; test: tiny; tiles2x2: the corners of 4 '
                             'neighbouring tiles sharing 2 exposures (default: demo)')
    parser.add_argument('--seed', type=int, help='random seed (same seed: identical files)')
    parser.add_argument('--tile', dest='tile_id', help='tile ID XXX.YYY (default 277.282)')
    parser.add_argument('--n-exposures', type=int, help='number of dithered exposures')
    parser.add_argument('--ccds', type=lambda s: tuple(int(c) for c in s.split(',') if c),
                        help='comma list of CCDs to simulate per exposure (0-39)')
    parser.add_argument('--tile-npix', type=int, help='tile size in pixels (10000: full tile)')
    parser.add_argument('--g1', type=float, help='constant shear g1 (default 0)')
    parser.add_argument('--g2', type=float, help='constant shear g2 (default 0)')
    parser.add_argument('--shear-field', choices=('constant', 'sinusoid'),
                        help='constant (g1, g2) or sinusoid: a position-dependent shear of '
                             'amplitude |(g1, g2)| (per-object g1, g2 in truth.fits)')
    parser.add_argument('--shear-positions', choices=('groups', 'field', 'none'),
                        help='lensing of galaxy positions: groups (default; each '
                             'friends-of-friends group sheared about its centre), field (all '
                             'offsets from the tile centre), none (shapes only)')
    parser.add_argument('--rotated-pairs', action='store_true', default=None,
                        help='every second galaxy is its neighbour rotated by 90 degrees')
    parser.add_argument('--n-jobs', type=int, help='parallel processes (default 2)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the simulated inputs of a non-empty output directory')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    from shapepipe.simulation.simulate import settings_for, simulate

    start = time.perf_counter()
    try:
        settings = settings_for(
            args.preset, seed=args.seed, tile_id=args.tile_id, n_exposures=args.n_exposures,
            ccds=args.ccds, tile_npix=args.tile_npix, g1=args.g1, g2=args.g2,
            rotated_pairs=args.rotated_pairs, shear_field=args.shear_field, n_jobs=args.n_jobs,
            shear_positions=args.shear_positions)
        if args.preset == 'tiles2x2':
            from shapepipe.simulation.multi_tile import simulate_corner

            summary = simulate_corner(args.output, settings, overwrite=args.overwrite)
        else:
            summary = simulate(args.output, settings, overwrite=args.overwrite)
    except ShapePipeError as error:
        print(f'shapepipe_simulate: error: {error}', file=sys.stderr)
        return 2
    except OSError as error:
        print(f'shapepipe_simulate: error: {error.strerror}: {error.filename}', file=sys.stderr)
        return 2
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'wrote {args.output}: {summary["n_objects"]} objects, exposures '
          f'{", ".join(map(str, summary["exposures"]))} in {time.perf_counter() - start:.1f} s '
          f'(driver peak memory {peak:.0f} MB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
