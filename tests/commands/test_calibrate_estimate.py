"""The twin-field estimator of shapepipe_calibrate on synthetic catalogues
with a known multiplicative and additive bias (no truth matching, renumbered
twins)."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from shapepipe.calibrate.estimate import calibrate_pairs
from tests.commands.synthetic_shear import make_catalog, write_final_catalog


def _write(catalog, path, ra, dec, order):
    write_final_catalog(catalog, path)
    table = Table(fits.getdata(path, 'RESULTS'))
    table['XWIN_WORLD'], table['YWIN_WORLD'] = ra, dec
    table = table[order]                                  # another detection order
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(table, name='RESULTS')]).writeto(
        path, overwrite=True)


def test_twin_estimator_recovers_m_and_c(tmp_path):
    """True response 1.02 x the metacal one (m = +0.02) and c = (0.001, -0.002),
    the - fields in another detection order: both recovered to 1e-9; the
    jackknife error is defined and the S/N bins add up to the whole."""
    size_effect, true_factor, tolerance = 0.0, 1.02, 1e-9
    R = np.diag([0.7, 0.7])
    paths = {}
    for pair in range(2):
        rng = np.random.default_rng(pair)
        n = 4000
        ra = 30.0 + rng.uniform(0, 0.05, n)
        dec = 10.0 + rng.uniform(0, 0.05, n)
        for sign, factor in (('plus', 1), ('minus', -1)):
            catalog = make_catalog(n=n, g=(0.02 * factor, 0.0), response=R,
                                   true_response=true_factor * R, additive=(0.001, -0.002),
                                   size_effect=size_effect, seed=10 + pair)
            path = str(tmp_path / f'{pair}_{sign}.fits')
            order = np.arange(n) if sign == 'plus' else rng.permutation(n)
            _write(catalog, path, ra, dec, order)
            paths[(pair, sign)] = path
    result = calibrate_pairs(paths, (0.02, 0.0), grid=2)
    overall = result['overall']
    assert overall['m1'] == pytest.approx(true_factor - 1, abs=tolerance)
    assert overall['c1'] == pytest.approx(0.001, abs=tolerance)
    assert overall['c2'] == pytest.approx(-0.002, abs=tolerance)
    assert overall['m2'] is None                      # no shear in g2
    assert result['n_patches'] == 8
    assert overall['m1_err'] >= 0
    snr_bins = [s for s in result['splits'] if s['selection'].startswith('snr')]
    assert sum(s['n_plus'] for s in snr_bins) == overall['n_plus']
    assert result['response_outliers']['plus']['n'] == 0
