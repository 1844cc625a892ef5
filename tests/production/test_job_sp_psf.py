"""``job_sp -p mccd`` and ``-p piff``: the production configs of example/cfis for
each PSF model (fast), and both models end to end on one tile of the simulator's
tiles2x2 to a final catalogue whose PSF columns hold the model's PSF (benchmark:
the MCCD and Piff fits take minutes on a loaded machine)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.commands.check_config import check_config
from shapepipe.commands.job_sp import TILE_PSF_CONFIG, default_config_dir, set_key, step_configs
from shapepipe.commands.post_proc_sp import final_catalogs
from shapepipe.commands.simulate import main as simulate_main

BIN = os.path.dirname(sys.executable)
CFIS = default_config_dir()
#: PSF runners each model's configs must run (exposure models, then tile interpolation)
RUNNERS = {'psfex': ('psfex_runner', 'psfex_interp_runner'),
           'mccd': ('mccd_fit_val_runner', 'mccd_interp_runner'),
           'piff': ('piff_runner', 'piff_interp_runner')}
#: Reduced model settings (the job_sp wiring is tested here, the models' accuracy in
#: tests/psf): the benchmarks' fast MCCD file, without CCD rejection (one CCD per
#: exposure) and with the local polynomial model (the hybrid graph search dominates)
MCCD_FAST = os.path.join(os.path.dirname(os.path.dirname(CFIS)), 'benchmarks',
                         'config_MCCD_fast.ini')
PIFF_YAML = """psf:
    type: Simple
    model: {type: PixelGrid, scale: 0.187, size: 17}
    interp: {type: BasisPolynomial, order: 1}
    max_iter: 2
"""


@pytest.mark.parametrize('psf', ['psfex', 'mccd', 'piff'])
def test_each_psf_model_has_its_production_configs(psf):
    configs = step_configs(psf)
    exposure_runner, tile_runner = RUNNERS[psf]
    runs8 = [run.runner for run in check_config(os.path.join(CFIS, configs[8][0]))]
    runs16 = [run.runner for run in check_config(os.path.join(CFIS, configs[16][0]))]
    assert exposure_runner in runs8 and tile_runner in runs16
    final = check_config(os.path.join(CFIS, configs[64][1]))[0]
    assert f'last:{tile_runner}' in open(os.path.join(CFIS, configs[64][1])).read()
    assert final.runner == 'make_cat_runner'
    # no model reads another model's PSFs (Piff and PSFEx both start with P)
    others = {r for p, pair in RUNNERS.items() if p != psf for r in pair}
    assert not others & set(runs8 + runs16)
    assert len(set(TILE_PSF_CONFIG.values())) == 3


def test_model_settings_files_are_shipped():
    text = open(os.path.join(CFIS, 'config_MCCD.ini')).read()
    assert '[FIT]' in text and 'LOC_MODEL' in text
    assert 'PixelGrid' in open(os.path.join(CFIS, 'piff.yaml')).read()


@pytest.fixture(scope='module')
def psf_runs(tmp_path_factory):
    """One tile of tiles2x2: steps 1-4 once, then 8-64 with MCCD and with Piff."""
    base = tmp_path_factory.mktemp('psf_models')
    sp_run = base / 'run'
    assert simulate_main(['-o', str(sp_run), '--preset', 'tiles2x2', '--seed', '5']) == 0
    config_dir = base / 'cfis'
    shutil.copytree(CFIS, config_dir)              # symlinks followed: plain files
    mccd = set_key(open(MCCD_FAST).read(), 'CCD_STAR_THRESH', -1)
    for key, value in (('LOC_MODEL', 'poly'), ('NB_SUBITER_S_LOC', 20), ('NB_SUBITER_A_LOC', 20),
                       ('NB_SUBITER_S_GLOB', 20), ('NB_SUBITER_A_GLOB', 20)):
        mccd = set_key(mccd, key, value)
    (config_dir / 'config_MCCD.ini').write_text(mccd)
    (config_dir / 'piff.yaml').write_text(PIFF_YAML)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    env.pop('SP_CONFIG', None)
    outputs = {}
    for options in (['-j', '7', '-c', str(config_dir)], ['-p', 'mccd', '-j', '120'],
                    ['-p', 'piff', '-j', '120']):
        result = subprocess.run([os.path.join(BIN, 'job_sp'), '--star_cat_from', 'truth.fits']
                                + options + ['277.282'], cwd=sp_run, env=env,
                                capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        if '-p' in options:
            outputs[options[1]] = final_catalogs(str(sp_run / 'output'), ['277.282'])['277.282']
    return sp_run, outputs


@pytest.mark.benchmark
@pytest.mark.parametrize('psf', ['mccd', 'piff'])
def test_job_sp_psf_model_end_to_end(psf_runs, psf):
    sp_run, outputs = psf_runs
    path = outputs[psf]
    assert 'make_cat_runner' in path
    catalogue = fits.getdata(path, 1)
    assert len(catalogue) >= 10
    # the PSF columns hold the model's PSF at every object: finite, and its size that of
    # the simulated PSF (Gaussian-fit FWHM of a Moffat: within 25% of the true FWHM)
    t_psf = np.asarray(catalogue['NGMIX_Tpsf_NOSHEAR'], float)
    ok = np.asarray(catalogue['NGMIX_MCAL_FLAGS']) == 0 if 'NGMIX_MCAL_FLAGS' in \
        catalogue.columns.names else np.ones(len(catalogue), bool)
    assert ok.mean() > 0.5 and np.isfinite(t_psf[ok]).all()
    fwhm = np.median(2.3548 * np.sqrt(t_psf[ok] / 2))
    truth = fits.getdata(sp_run / 'truth.fits', 'TRUTH')
    true_fwhm = np.nanmean([np.nanmean(truth['psf_fwhm_0']), np.nanmean(truth['psf_fwhm_1'])])
    assert abs(fwhm / true_fwhm - 1) < 0.25, (fwhm, true_fwhm)
    ell = np.asarray(catalogue['NGMIX_ELL_PSFo_NOSHEAR'], float)[ok]
    assert np.isfinite(ell).all() and (np.abs(ell) < 0.2).all()
