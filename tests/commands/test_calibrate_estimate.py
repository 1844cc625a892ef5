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


MPI_SCRIPT = '''
import os, sys
import numpy as np
sys.path.insert(0, {repo!r})
from shapepipe.commands.calibrate import main
from tests.commands.synthetic_shear import make_catalog
from tests.commands.test_calibrate_estimate import _write


def fake_field(out_dir, pair, sign, shear, seed, variants, preset, overrides, reuse=False):
    """Synthetic final catalogue of a field (m = 0.02), with the rank's pid."""
    n = 2000
    rng = np.random.default_rng(pair)
    ra, dec = 30.0 + rng.uniform(0, 0.05, n), 10.0 + rng.uniform(0, 0.05, n)
    factor = 1 if sign == 'plus' else -1
    catalog = make_catalog(n=n, g=(shear[0] * factor, 0.0), response=np.diag([0.7, 0.7]),
                           true_response=np.diag([0.714, 0.714]), seed=seed)
    path = os.path.join(out_dir, f'{{pair}}_{{sign}}_{{os.getpid()}}.fits')
    _write(catalog, path, ra, dec, np.arange(n))
    return {{name: path for name in variants}}


sys.exit(main(['-o', {out!r}, '-n', '2', '--variants', 'nomask', '--no-plot', '--grid', '2'],
              field_runner=fake_field))
'''


def test_fields_spread_over_mpi_ranks(tmp_path):
    """Under mpiexec -n 2 the four fields of two pairs run on both ranks and
    rank 0 gathers them all: m = 0.02 as injected."""
    import json
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / 'run.py'
    out = tmp_path / 'cal'
    out.mkdir()
    script.write_text(MPI_SCRIPT.format(repo=repo, out=str(out)))
    bin_dir = os.path.dirname(sys.executable)
    result = subprocess.run([os.path.join(bin_dir, 'mpiexec'), '-n', '2', sys.executable,
                             str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    pids = {name.rsplit('_', 1)[1] for name in os.listdir(out) if name.endswith('.fits')}
    assert len(pids) == 2                          # both ranks ran fields
    overall = json.loads((out / 'calibration.json').read_text())['variants']['nomask'][
        'overall']
    assert overall['m1'] == pytest.approx(0.02, abs=1e-9)
    assert result.stdout.count('nomask: 2 pair(s)') == 1     # only rank 0 reports


def test_metadetect_estimator_ignores_objects_missing_from_sheared_catalogues(tmp_path):
    """Metadetection catalogues: 10% of the objects are not detected in the
    sheared images (flag NOT_DETECTED, placeholder values -10 there). The
    metadetect estimator (each sheared catalogue averaged over its own
    selection) recovers the injected m = 0.02 and c to 1e-9, twin-matched
    too, and counts no response outlier; the metacal estimator (per-object
    e^1P - e^1M over the NOSHEAR selection) averages the placeholders in (here
    the same objects are missing in 1P and 1M, R 10% low, m = +0.13; on
    the simulations they differ, per-object |R| ~ 500)."""
    not_detected, placeholder = 1 << 13, -10.0
    R = np.diag([0.7, 0.7])
    paths, n_missing = {}, 0
    for pair in range(2):
        rng = np.random.default_rng(pair)
        n = 2000
        ra = 30.0 + rng.uniform(0, 0.05, n)
        dec = 10.0 + rng.uniform(0, 0.05, n)
        missing = rng.random(n) < 0.1
        for sign, factor in (('plus', 1), ('minus', -1)):
            catalog = make_catalog(n=n, g=(0.02 * factor, 0.0), response=R,
                                   true_response=1.02 * R, additive=(0.001, -0.002),
                                   seed=10 + pair)
            if sign == 'plus':      # missing and selected (T/Tpsf > 0.5; Tpsf = 1, S/N > 15)
                n_missing += int((missing & (catalog['NOSHEAR']['T'] > 0.5)).sum())
            for kind in ('1P', '1M', '2P', '2M'):
                table = catalog[kind]
                table['flags'][missing] = not_detected
                table['e'][missing] = placeholder
                for key in ('T', 'snr'):
                    table[key][missing] = placeholder
            path = str(tmp_path / f'{pair}_{sign}.fits')
            order = np.arange(n) if sign == 'plus' else rng.permutation(n)
            _write(catalog, path, ra, dec, order)
            paths[(pair, sign)] = path
    result = calibrate_pairs(paths, (0.02, 0.0), grid=2, metadetect=True)
    for entry in (result['overall'], result['matched'][0]):
        assert entry['m1'] == pytest.approx(0.02, abs=1e-9)
        assert entry['c1'] == pytest.approx(0.001, abs=1e-9)
        assert entry['c2'] == pytest.approx(-0.002, abs=1e-9)
    for sign in ('plus', 'minus'):
        outliers = result['response_outliers'][sign]
        assert outliers['n'] == 0 and outliers['max_abs_R'] == pytest.approx(0.7, abs=1e-9)
        assert outliers['n_missing'] == n_missing
    wrong = calibrate_pairs(paths, (0.02, 0.0), grid=2)    # placeholder e^1P - e^1M = 0: R low
    assert wrong['overall']['m1'] > 0.1
