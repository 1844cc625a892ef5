"""shapepipe_calibrate end to end: one twin (+g/-g) field pair simulated and
run through the whole GOLD chain (PSFEx, detection, star selection, stamps,
ngmix, make_cat), calibrated without any truth matching."""

import json
import os
import shutil

import pytest

from shapepipe.commands.calibrate import main

if os.environ.get('CI') and not (shutil.which('source-extractor') and shutil.which('psfex')):
    pytest.fail('CI must install source-extractor and psfex (make install)')


def test_twin_field_calibration_end_to_end(tmp_path):
    """~400 selected galaxies: m is noise-limited (sigma ~ 0.015), no
    per-object response beyond 5, and the table, JSON and plot are written."""
    out = tmp_path / 'cal'
    assert main(['-o', str(out), '-n', '1', '--tile-npix', '1000', '--galaxy-density', '55',
                 '--n-exposures', '1', '--variants', 'nomask', '-j', '2', '--grid', '3']) == 0
    result = json.loads((out / 'calibration.json').read_text())
    nomask = result['variants']['nomask']
    overall = nomask['overall']
    assert min(overall['n_plus'], overall['n_minus']) > 200
    assert abs(overall['m1']) < 0.05, overall
    assert 0 < overall['m1_err'] < 0.05
    assert nomask['n_patches'] == 9
    for sign in ('plus', 'minus'):
        assert nomask['response_outliers'][sign]['n'] == 0
    assert (out / 'calibration.png').stat().st_size > 10000
    assert len(nomask['splits']) == 10
