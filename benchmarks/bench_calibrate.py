"""End-to-end shear calibration benchmark: ``shapepipe_calibrate`` on N twin
(+g/-g) field pairs through the whole GOLD chain, for each measurement variant.

Prints m1, c1, c2 with jackknife errors, the number of selected objects, the
response outliers, the wall and CPU time, and the number of field pairs that
sigma(m) <= 3e-3 would need at the measured sigma(m) (sigma scales as
1/sqrt(pairs)). ShapePipe's own figure: residual |m| <= 1e-3 on UNIONS image
simulations (Guinot et al. 2022), from a far larger simulation campaign.

    .venv/bin/python benchmarks/bench_calibrate.py [-n PAIRS] [-j JOBS] [--tile-npix N]
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

from shapepipe.commands.calibrate import main as calibrate

TARGET = 3e-3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('-n', '--n-pairs', type=int, default=2)
    parser.add_argument('-j', '--n-jobs', type=int, default=2)
    parser.add_argument('--tile-npix', type=int, default=1600)
    parser.add_argument('--galaxy-density', type=float, default=55.0)
    parser.add_argument('--variants', default='uberseg,nomask,uberseg_keep')
    parser.add_argument('-o', '--output', help='work directory (default: a temporary one)')
    args = parser.parse_args()
    out = args.output or tempfile.mkdtemp(prefix='bench_calibrate_')
    start = time.time()
    status = calibrate(['-o', out, '-n', str(args.n_pairs), '-j', str(args.n_jobs),
                        '--tile-npix', str(args.tile_npix), '--galaxy-density',
                        str(args.galaxy_density), '--variants', args.variants, '--no-plot'])
    wall = time.time() - start
    if status:
        sys.exit(status)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    result = json.load(open(os.path.join(out, 'calibration.json')))
    print(f'\n{args.n_pairs} pair(s), tile {args.tile_npix}^2, {args.galaxy_density:g} '
          f'galaxies/arcmin^2: {wall:.0f} s wall, {cpu:.0f} s CPU (children) on '
          f'{args.n_jobs} jobs')
    for name, res in result['variants'].items():
        o = res['overall']
        need = (o['m1_err'] / TARGET) ** 2 * args.n_pairs if o['m1_err'] else float('nan')
        out_p, out_m = res['response_outliers']['plus'], res['response_outliers']['minus']
        print(f'{name:>14}: N = {o["n_plus"]}/{o["n_minus"]}  m1 = {o["m1"]:+.4f} +- '
              f'{o["m1_err"]:.4f}  c1 = {o["c1"]:+.4f} +- {o["c1_err"]:.4f}  c2 = '
              f'{o["c2"]:+.4f} +- {o["c2_err"]:.4f}  |R|>5: {out_p["n"]}+{out_m["n"]}  '
              f'sigma(m) <= 3e-3 needs ~{need:.0f} pairs (~{need / args.n_pairs * cpu / 3600:.1f} '
              f'CPU h)')
    print('ShapePipe (Guinot et al. 2022): residual |m| <= 1e-3 on UNIONS image simulations')


if __name__ == '__main__':
    main()
