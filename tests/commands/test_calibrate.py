"""shapepipe_calibrate end to end: one twin (+g/-g) field pair simulated and
run through the whole GOLD chain (PSFEx, detection, star selection, stamps,
ngmix with uberseg, make_cat), calibrated without any truth matching."""

import json
import os
import shutil

import pytest

from shapepipe.commands.calibrate import main

if os.environ.get('CI') and not (shutil.which('source-extractor') and shutil.which('psfex')):
    pytest.fail('CI must install source-extractor and psfex (make install)')


def test_twin_field_calibration_end_to_end(tmp_path):
    """One small pair (1 exposure, a 1000^2 tile, ~40 selected galaxies):
    the chain runs, m is finite and far from gross failures (a sign or
    response error gives m ~ -2 or m ~ +0.4), no per-object |R| > 5, and the
    table, JSON and plot are written. |m| < 0.05 needs ~30x more galaxies
    and is not reached on blended fields (docs/calibration.md)."""
    out = tmp_path / 'cal'
    assert main(['-o', str(out), '-n', '1', '--tile-npix', '1000', '--galaxy-density', '55',
                 '--n-exposures', '1', '--variants', 'uberseg', '-j', '2', '--grid', '3']) == 0
    result = json.loads((out / 'calibration.json').read_text())['variants']['uberseg']
    overall = result['overall']
    assert min(overall['n_plus'], overall['n_minus']) > 25
    assert abs(overall['m1']) < 0.4, overall
    assert 0 < overall['m1_err'] < 0.3
    matched = result['matched'][0]
    assert abs(matched['m1']) < 0.4 and matched['n_plus'] >= 0.9 * overall['n_plus']
    assert result['n_patches'] == 9
    for sign in ('plus', 'minus'):
        assert result['response_outliers'][sign]['n'] == 0
    assert (out / 'calibration.png').stat().st_size > 10000
    assert len(result['splits']) == 10
