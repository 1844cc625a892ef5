"""Multiplicative and additive shear bias of our metacalibration.

Noise-paired simulations (each galaxy sheared by +g and -g with the same
noise, 90-degree rotated pairs, and antithetic noise twins), elliptical
Moffat PSFs (|g| = 0.05), 51x51 stamps, constant shear g = (0.02, 0):

  (a) one epoch, S/N 20-100;
  (b) three epochs with different PSFs (FWHM 0.65-0.75") and WCS Jacobians;
  (c) one epoch, S/N 10-100, with cuts S/N > 12 and T/Tpsf > 0.2 applied on
      each sheared catalogue (selection response included);
  (d) as (a) on 41x41 stamps (the result must not depend on the stamp size).

Prints m, c with bootstrap errors (over galaxies) and the object count beside
the targets (|m| < 1e-3, |c| < 1e-4) and ShapePipe's published residual bias
(|m| <= 1e-3, Guinot et al. 2022).

Usage: .venv/bin/python benchmarks/bench_shear_bias.py [n_galaxies] [n_jobs] [cases]
       (n_galaxies 8000 gives sigma(m) ~ 5e-4; cases e.g. "abcd")
"""

import os

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import sys  # noqa: E402
import time  # noqa: E402

from shapepipe.modules.ngmix_package.stamp_stores import measure_stamp_arrays  # noqa: E402
from shapepipe.simulation.shear_stamps import (StampSimConfig, paired_bias,  # noqa: E402
                                               run_paired)

SHEAR = (0.02, 0.0)


def size_and_snr_cut(table):
    ratio = table['T'] / table['Tpsf']
    return (table['s2n'] > 12) & (ratio > 0.2)


CASES = {
    'a': ('one epoch, S/N 20-100', dict(n_epochs=1), None),
    'b': ('three epochs, different PSFs and Jacobians', dict(n_epochs=3), None),
    'c': ('one epoch, S/N 10-100, cuts S/N > 12, T/Tpsf > 0.2', dict(snr_range=(10.0, 100.0)),
          size_and_snr_cut),
    'd': ('one epoch, 41x41 stamps', dict(stamp_size=41, psf_size=41), None),
}


def main(n_galaxies=8000, n_jobs=2, cases='abcd'):
    print(f'{"case":<52} {"objects":>8} {"m1":>10} {"+-":>8} {"c1":>10} {"+-":>8} '
          f'{"c2":>10} {"+-":>8} {"R11":>6} {"R11_sel":>8} {"time":>6}')
    for key in cases:
        title, options, select = CASES[key]
        config = StampSimConfig(n_galaxies=n_galaxies, shear=SHEAR, seed=100 + ord(key),
                                **options)
        start = time.time()
        result = run_paired(config, measure_stamp_arrays, n_jobs=n_jobs)
        bias = paired_bias(result, SHEAR, select=select, n_boot=200)
        print(f'({key}) {title:<48} {bias["n"]:>8} {bias["m1"]:>10.2e} {bias["m1_err"]:>8.1e} '
              f'{bias["c1"]:>10.2e} {bias["c1_err"]:>8.1e} {bias["c2"]:>10.2e} '
              f'{bias["c2_err"]:>8.1e} {bias["R"][0]:>6.3f} {bias["R_sel"][0]:>8.4f} '
              f'{time.time() - start:>5.0f}s', flush=True)
    print('targets: |m| < 1e-3 with sigma(m) <= 5e-4, |c| < 1e-4; ShapePipe (Guinot et al. '
          '2022): |m| <= 1e-3, |c| < 5e-4 on its image simulations')
    return 0


if __name__ == '__main__':
    args = sys.argv[1:]
    sys.exit(main(*(int(a) for a in args[:2]), *args[2:3]))
