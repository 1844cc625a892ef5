"""The ngmix and final catalogues of the simulated test tile equal the versioned
reference catalogues (tests/data/regression/), column by column within the
tolerances stated in tests/regression/__init__.py.

The tile run reuses the session's simulated field (tests/conftest.py ``branch``)
and the tile runs of tests/exposure/test_exposure_branch.py when they already
ran in this session; alone, this test runs them (about a minute).
"""

import glob
import os
import shutil

import numpy as np
import pytest
from astropy.io import fits

import tests.exposure.test_exposure_branch as exposure
from tests.conftest import latest_run
from tests.regression import DATA, REFRESH_VARIABLE, compare_catalogues

# Reference name -> (run directory prefix, module output directory).
CATALOGUES = {
    'ngmix-277-282.fits': ('run_sp_tile_ngmix_2', 'ngmix_runner'),
    'final_cat-277-282.fits': ('run_sp_make_cat_', 'make_cat_runner'),
}


def _tile_outputs(branch):
    sp_run = branch[0]
    if not glob.glob(str(sp_run / 'output' / 'run_sp_make_cat_*')):
        exposure.test_final_catalogue(branch)
    return {name: os.path.join(latest_run(sp_run, prefix), module, 'output', name)
            for name, (prefix, module) in CATALOGUES.items()}


@pytest.mark.parametrize('name', sorted(CATALOGUES))
def test_tile_catalogue_matches_the_reference(branch, name):
    new = _tile_outputs(branch)[name]
    ref = os.path.join(DATA, name)
    if os.environ.get(REFRESH_VARIABLE):
        if os.path.isfile(ref):
            print(f'\n{name}: changes against the old reference:\n  '
                  + '\n  '.join(compare_catalogues(new, ref) or ['none']))
        shutil.copyfile(new, ref)
        return
    assert os.path.isfile(ref), f'{ref} missing: run `python -m tests.regression --refresh`'
    problems = compare_catalogues(new, ref)
    assert not problems, (f'{name} differs from {ref} (if the change is meant, run `python -m '
                          f'tests.regression --refresh` and commit):\n' + '\n'.join(problems))


def test_comparison_catches_drift_renames_and_row_changes(tmp_path):
    ref = os.path.join(DATA, 'ngmix-277-282.fits')
    assert compare_catalogues(ref, ref) == []
    with fits.open(ref) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    data = hdul['NOSHEAR'].data
    data['g1'][3] *= 1 + 1e-5                       # beyond RTOL = 1e-6
    data['flags'][0] += 1
    hdul.writeto(tmp_path / 'drift.fits')
    problems = compare_catalogues(str(tmp_path / 'drift.fits'), ref)
    assert len(problems) == 2
    assert problems[0].startswith('[NOSHEAR] g1: 1 of') and 'worst at (3,)' in problems[0]
    assert problems[1].startswith('[NOSHEAR] flags: 1 of')
    data['g1'][3] = fits.getdata(ref, 'NOSHEAR')['g1'][3] * (1 + 1e-8)   # within
    data['flags'][0] -= 1
    hdul['NOSHEAR'].columns.change_name('s2n', 'snr')
    hdul.writeto(tmp_path / 'renamed.fits')
    problems = compare_catalogues(str(tmp_path / 'renamed.fits'), ref)
    assert problems == ["[NOSHEAR] columns differ: missing ['s2n'], new ['snr']"]
    short = fits.HDUList([fits.PrimaryHDU()] + [
        fits.BinTableHDU(np.asarray(h.data)[:-1], name=h.name) for h in hdul[1:]])
    short.writeto(tmp_path / 'short.fits')
    problems = compare_catalogues(str(tmp_path / 'short.fits'), ref)
    assert any('rows, reference' in line for line in problems)
