"""Long accuracy runs: excluded from the default test run (pyproject's
``-m 'not benchmark'``), run by ``make benchmark`` (``pytest -m benchmark``)."""

import pytest

from shapepipe.simulation.shear_stamps import StampSimConfig, paired_bias, run_paired


@pytest.mark.benchmark
def test_shear_bias_one_epoch_to_the_shapepipe_requirement():
    """Case (a) of benchmarks/bench_shear_bias.py with 8000 galaxies (32 000
    stamps, sigma(m) ~ 5e-4, a few minutes on two cores): |m1| within 1e-3
    (ShapePipe's published residual, Guinot et al. 2022) plus the +g^2 = 4e-4
    composition term and 2 sigma; |c| < 3e-4."""
    config = StampSimConfig(n_galaxies=8000, seed=5, shear=(0.02, 0.0))
    result = run_paired(config, n_jobs=2, chunk_size=250)
    bias = paired_bias(result, config.shear, n_boot=200)
    print(bias)
    assert bias['n'] >= 0.99 * 4 * config.n_galaxies
    assert bias['m1_err'] < 7e-4
    assert abs(bias['m1'] - 4e-4) < 1e-3 + 2 * bias['m1_err']
    assert abs(bias['c1']) < 3e-4 and abs(bias['c2']) < 3e-4
