"""MCCD and Piff PSF modules on a synthetic exposure whose true PSF is known."""

import glob
import os
import subprocess
import sys

import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from shapepipe.psf.mccd.model import MCCDModel, focal_plane_positions
from shapepipe.psf.mccd.starlet import starlet_filters
from shapepipe.psf.piff.model import PiffModel
from shapepipe.psf.shapes import hsm_shapes

BIN = os.path.dirname(sys.executable)
EXPOSURE = '2100001'
STAMP = 25
PIXEL_SCALE = 0.187
#: example/GOLD/mccd/config_MCCD.ini's model (local polynomial of degree 1, global of degree 2)
#: with fewer sub-iterations: the fit of 2 CCDs x 36 stars takes a few seconds.
MCCD_INI = """[INPUTS]
MIN_N_STARS = 20
OUTLIER_STD_MAX = 100.
USE_SNR_WEIGHTS = False
[INSTANCE]
N_COMP_LOC = 1
D_COMP_GLOB = 2
KSIG_LOC = 0.0
KSIG_GLOB = 0.0
FILTER_PATH = None
D_HYB_LOC = 2
MIN_D_COMP_GLOB = None
RMSE_THRESH = 1.25
CCD_STAR_THRESH = -1
FP_GEOMETRY = CFIS
[FIT]
LOC_MODEL = poly
PSF_SIZE = 6.2
PSF_SIZE_TYPE = R2
N_EIGENVECTS = 5
N_ITER_RCA = 1
N_ITER_GLOB = 2
N_ITER_LOC = 2
NB_SUBITER_S_LOC = 150
NB_SUBITER_A_LOC = 200
NB_SUBITER_S_GLOB = 60
NB_SUBITER_A_GLOB = 100
[VALIDATION]
APPLY_DEGRADATION = True
"""

PIFF_YAML = """psf:
    type: Simple
    model: {type: PixelGrid, scale: 0.187, size: 17}
    interp: {type: BasisPolynomial, order: 2}
    max_iter: 3
"""


def true_psf(ccd, x, y):
    """The synthetic exposure's PSF: a Moffat whose size and shape vary over the focal plane."""
    u, v = focal_plane_positions(ccd, [x], [y])[0] / 10000.0
    return galsim.Moffat(beta=3.0, fwhm=0.70 * (1 + 0.04 * u)).shear(
        g1=0.03 + 0.02 * u, g2=-0.02 + 0.03 * v)


def draw(ccd, x, y, offset=(0.0, 0.0)):
    return true_psf(ccd, x, y).drawImage(nx=STAMP, ny=STAMP, scale=PIXEL_SCALE,
                                         offset=offset).array


def star_catalogue(path, ccd, n, rng, nan_star=False):
    """A setools-like LDAC star catalogue (HDU 2) of ``n`` bright stars."""
    x = rng.uniform(40, 2000, n)
    y = rng.uniform(40, 4570, n)
    flux = 2e5
    vignets = np.array([flux * draw(ccd, xi, yi, rng.uniform(-0.5, 0.5, 2)) for xi, yi in
                        zip(x, y)]) + rng.normal(0, 3.0, (n, STAMP, STAMP))
    if nan_star:
        vignets[0, 3, 3] = np.nan
    table = Table({'NUMBER': np.arange(1, n + 1), 'XWIN_IMAGE': x, 'YWIN_IMAGE': y,
                   'XWIN_WORLD': 150 + (x + 2100 * ccd) * PIXEL_SCALE / 3600,
                   'YWIN_WORLD': 2 + y * PIXEL_SCALE / 3600, 'SNR_WIN': np.full(n, 500.0),
                   'MAG_AUTO': np.full(n, 18.0), 'VIGNET': vignets.astype(np.float32)})
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(), fits.table_to_hdu(table)]).writeto(path)
    return table


@pytest.fixture(scope='module')
def field(tmp_path_factory):
    """Star catalogues of CCDs 12 and 13 (36 training, 12 test stars each, one NaN
    star) and CCD 14 (8 stars: too few), and a run of the MCCD exposure modules."""
    base = tmp_path_factory.mktemp('mccd')
    rng = np.random.default_rng(14)
    inputs = base / 'input'
    inputs.mkdir()
    for ccd, n_train, n_test in ((12, 36, 12), (13, 36, 12), (14, 8, 2)):
        star_catalogue(inputs / f'star_split_ratio_80-{EXPOSURE}-{ccd}.fits', ccd, n_train, rng,
                       nan_star=ccd == 13)
        star_catalogue(inputs / f'star_split_ratio_20-{EXPOSURE}-{ccd}.fits', ccd, n_test, rng)
        galaxies = Table({'NUMBER': np.arange(1, 6), 'XWIN_IMAGE': rng.uniform(40, 2000, 5),
                          'YWIN_IMAGE': rng.uniform(40, 4570, 5)})
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(), fits.table_to_hdu(galaxies)]
                     ).writeto(inputs / f'sexcat-{EXPOSURE}-{ccd}.fits')
    (base / 'config_MCCD.ini').write_text(MCCD_INI)
    (base / 'piff.yaml').write_text(PIFF_YAML)
    result = run(base, f"""
[EXECUTION]
MODULE = mccd_preprocessing_runner, mccd_fit_val_runner, merge_starcat_runner,
         mccd_plots_runner, mccd_interp_runner, piff_runner, piff_interp_runner,
         mccd_fit_runner, mccd_val_runner
[FILE]
INPUT_DIR = {inputs}
OUTPUT_DIR = {base}/output
[MCCD_PREPROCESSING_RUNNER]
CONFIG_PATH = {base}/config_MCCD.ini
MODE = FIT_VALIDATION
NUMBERING_SCHEME = -0000000-0
[MCCD_FIT_VAL_RUNNER]
CONFIG_PATH = {base}/config_MCCD.ini
MODE = FIT_VALIDATION
[MERGE_STARCAT_RUNNER]
INPUT_MODULE = mccd_fit_val_runner
PSF_MODEL = mccd
NUMBERING_SCHEME = -0000000
[MCCD_PLOTS_RUNNER]
PSF = mccd
X_GRID = 5
Y_GRID = 10
PLOT_RHO_STATS = True
RHO_STATS_STYLE = HSC
[MCCD_INTERP_RUNNER]
INPUT_DIR = {inputs}
FILE_PATTERN = sexcat
NUMBERING_SCHEME = -0000000-0
MODE = CLASSIC
PSF_MODEL_DIR = mccd_fit_val_runner
[MCCD_FIT_RUNNER]
INPUT_MODULE = mccd_preprocessing_runner
CONFIG_PATH = {base}/config_MCCD.ini
MODE = FIT
[MCCD_VAL_RUNNER]
INPUT_MODULE = mccd_fit_runner, mccd_preprocessing_runner
CONFIG_PATH = {base}/config_MCCD.ini
MODE = VALIDATION
[PIFF_RUNNER]
INPUT_MODULE = mccd_preprocessing_runner
PIFF_CONFIG = {base}/piff.yaml
[PIFF_INTERP_RUNNER]
INPUT_DIR = {inputs}
FILE_PATTERN = sexcat
NUMBERING_SCHEME = -0000000-0
MODE = CLASSIC
""")
    run_dir = [d for d in glob.glob(str(base / 'output' / 'shapepipe_run_*')) if os.path.isdir(d)][0]
    return base, run_dir, result


def run(base, body):
    (base / 'config.ini').write_text('[DEFAULT]\nVERBOSE = False\n' + body)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    os.makedirs(base / 'output', exist_ok=True)
    return subprocess.run([os.path.join(BIN, 'shapepipe_run'), '-c', str(base / 'config.ini')],
                          cwd=base, env=env, capture_output=True, text=True, timeout=600)


def output(run_dir, module, name):
    return os.path.join(run_dir, module, 'output', name)


def logs(run_dir, module):
    return ''.join(open(p).read() for p in glob.glob(os.path.join(run_dir, module, 'logs', '*')))


def test_starlet_filters_are_the_b3_spline_a_trous_transform_of_an_impulse():
    filters = starlet_filters((51, 51), n_scales=3)
    assert filters.shape == (3, 51, 51)
    # Exact reconstruction, wavelet scales of zero mean, unit coarse scale
    impulse = np.zeros((51, 51))
    impulse[25, 25] = 1
    np.testing.assert_allclose(filters.sum(axis=0), impulse, atol=1e-15)
    np.testing.assert_allclose(filters.sum(axis=(1, 2)), [0, 0, 1], atol=1e-15)
    # Published definition: h = [1,4,6,4,1]/16 separable; c1 = h x h, w1 = delta - c1;
    # c2 = c1 smoothed by h with holes of 1 pixel; w2 = c1 - c2
    h = np.array([1, 4, 6, 4, 1]) / 16
    c1 = np.zeros((51, 51))
    c1[23:28, 23:28] = np.outer(h, h)
    h2 = np.zeros(9)
    h2[::2] = h
    c2 = np.zeros((51, 51))
    c2[19:32, 19:32] = np.outer(np.convolve(h, h2), np.convolve(h, h2))
    np.testing.assert_allclose(filters[0], impulse - c1, atol=1e-15)
    np.testing.assert_allclose(filters[1], c1 - c2, atol=1e-15)
    np.testing.assert_allclose(filters[2], c2, atol=1e-15)
    assert filters[0][25, 25] == pytest.approx(1 - 36 / 256)
    # MCCD makes even shapes odd
    assert starlet_filters((50, 50)).shape == (3, 49, 49)


def test_exposure_modules_run_and_flag_bad_ccds(field):
    base, run_dir, result = field
    # Exit status 1: only CCD 14's interpolation jobs (MCCD, Piff) failed (no model there)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    main_log = ''.join(open(p).read() for p in glob.glob(os.path.join(run_dir, 'logs', '*.log')))
    assert main_log.count(' ERROR ') == 2 and 'job -2100001-14' in main_log
    train = output(run_dir, 'mccd_preprocessing_runner', f'train_star_selection-{EXPOSURE}.fits')
    with fits.open(train) as hdul:
        status = {row['CCD']: row for row in hdul['CCD_STATUS'].data}
        assert set(hdul[1].data['CCD_ID_LIST']) == {12, 13}
    assert status[14]['N_USED'] == 0 and status[14]['FLAG'] & 1      # TOO_FEW_STARS
    assert status[13]['N_USED'] == 35 and status[13]['FLAG'] & 2     # NaN star dropped
    text = logs(run_dir, 'mccd_preprocessing_runner')
    assert 'MIN_N_STARS = 20: CCD 14 left out' in text
    assert 'NaN' in text
    assert os.path.isfile(output(run_dir, 'mccd_fit_val_runner', f'fitted_model-{EXPOSURE}.npz'))
    merged = fits.getdata(output(run_dir, 'merge_starcat_runner', 'full_starcat-0000000.fits'))
    assert set(merged['CCD_NB']) == {12, 13, 14}
    assert (merged['EXP_NB'] == int(EXPOSURE)).all()
    # CCD 14 has no model: its stars are flagged, not dropped
    assert (merged['FLAG_PSF_HSM'][merged['CCD_NB'] == 14] != 0).all()
    assert (merged['FLAG_PSF_HSM'][merged['CCD_NB'] != 14] == 0).all()
    rho = fits.getdata(output(run_dir, 'mccd_plots_runner', 'rho_stats.fits'))
    assert {'THETA', 'RHO1', 'RHO5', 'SIGMA_RHO3'} <= set(rho.columns.names)
    assert os.path.isfile(output(run_dir, 'mccd_plots_runner', 'rho_stats.png'))
    assert os.path.isfile(output(run_dir, 'mccd_plots_runner', 'psf_validation_maps.png'))
    # CLASSIC: stamps for CCDs with a model; CCD 14's job fails alone, with one line
    stamps = fits.getdata(output(run_dir, 'mccd_interp_runner', f'galaxy_psf-{EXPOSURE}-12.fits'))
    assert stamps['VIGNET'].shape == (5, STAMP, STAMP)
    np.testing.assert_allclose(stamps['VIGNET'].sum(axis=(1, 2)), 1, rtol=1e-5)
    assert not os.path.exists(output(run_dir, 'mccd_interp_runner',
                                     f'galaxy_psf-{EXPOSURE}-14.fits'))
    assert 'CCD 14 has no PSF model' in logs(run_dir, 'mccd_interp_runner')
    # FIT then VALIDATION in two runners: the same catalogue as mccd_fit_val_runner, exactly
    # (both fits are seeded from the run seed and the file number)
    separate = fits.getdata(output(run_dir, 'mccd_val_runner', f'validation_psf-{EXPOSURE}.fits'))
    joint = fits.getdata(output(run_dir, 'mccd_fit_val_runner', f'validation_psf-{EXPOSURE}.fits'))
    np.testing.assert_array_equal(separate['E1_PSF_HSM'], joint['E1_PSF_HSM'])
    np.testing.assert_array_equal(separate['SIGMA_PSF_HSM'], joint['SIGMA_PSF_HSM'])


def test_two_mccd_fits_of_the_same_stars_are_identical(field):
    """mccd_fit_runner and mccd_fit_val_runner fit the same file with the same seed:
    every array of the two models is equal, bit for bit."""
    _, run_dir, _ = field
    paths = [output(run_dir, module, f'fitted_model-{EXPOSURE}.npz')
             for module in ('mccd_fit_runner', 'mccd_fit_val_runner')]
    with np.load(paths[0]) as first, np.load(paths[1]) as second:
        assert sorted(first.files) == sorted(second.files)
        for key in first.files:
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_seeded_mccd_draws_from_the_generator_and_restores_global_state():
    """Inside seeded_mccd, numpy's global state and modopt's power-method start vectors come
    from the generator; outside, both are as before."""
    from modopt.math.matrix import PowerMethod
    from shapepipe.psf.mccd.model import seeded_mccd

    def draws(seed):
        with seeded_mccd(np.random.default_rng(seed)):
            power = PowerMethod(lambda x: x, (3, 4), auto_run=False)
            return np.random.randint(0, 1000, 5), power._set_initial_x()

    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    original = PowerMethod._set_initial_x
    first, second, other = draws(7), draws(7), draws(8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert PowerMethod._set_initial_x is original


#: Galaxy-like positions: a grid over each CCD, its outer rows and columns 20 pixels from
#: the edges (where a focal-plane model extrapolates beyond the outermost stars).
GRID_X, GRID_Y = np.meshgrid(np.linspace(20, 2028, 5), np.linspace(20, 4592, 7))


@pytest.mark.parametrize('kind', ['mccd', 'piff'])
@pytest.mark.parametrize('where', ['stars', 'grid'])
def test_model_matches_the_true_psf(field, kind, where):
    """Model minus true PSF at the test stars and on a grid reaching the CCD edges:
    |<de>| < 1e-3, RMS < 5e-3, |<dT/T>| < 3e-3."""
    base, run_dir, _ = field
    if kind == 'mccd':
        model = MCCDModel(output(run_dir, 'mccd_fit_val_runner', f'fitted_model-{EXPOSURE}.npz'))
    else:
        model = PiffModel(output(run_dir, 'piff_runner', f'piff_model-{EXPOSURE}.piff'), STAMP)
    de, dt = [], []
    for ccd in (12, 13):
        if where == 'stars':
            stars = fits.getdata(base / 'input' / f'star_split_ratio_20-{EXPOSURE}-{ccd}.fits', 2)
            x, y = stars['XWIN_IMAGE'], stars['YWIN_IMAGE']
        else:
            x, y = GRID_X.ravel(), GRID_Y.ravel()
        m1, m2, ms, mf = hsm_shapes(model.stamps(ccd, x, y))
        t1, t2, ts, tf = hsm_shapes(np.array([draw(ccd, xi, yi) for xi, yi in zip(x, y)]))
        assert not mf.any() and not tf.any()
        de.append(np.stack([m1 - t1, m2 - t2]))
        dt.append(ms ** 2 / ts ** 2 - 1)
    de, dt = np.concatenate(de, axis=1), np.concatenate(dt)
    print(kind, where, '- truth: <de>', de.mean(axis=1), 'rms', de.std(axis=1), '<dT/T>',
          dt.mean(), 'rms', dt.std())
    assert np.all(np.abs(de.mean(axis=1)) < 1e-3)
    assert np.all(de.std(axis=1) < 5e-3)
    assert abs(dt.mean()) < 3e-3


def test_piff_runners(field):
    """piff_runner: model and validation catalogue; piff_interp_runner CLASSIC stamps;
    CCD 14 (too few stars) fails alone with one line."""
    _, run_dir, _ = field
    validation = fits.getdata(output(run_dir, 'piff_runner', f'validation_psf-{EXPOSURE}.fits'))
    assert set(validation['CCD_NB']) == {12, 13, 14}
    assert (validation['FLAG_PSF_HSM'][validation['CCD_NB'] == 14] != 0).all()
    assert (validation['ACCEPTED'][validation['CCD_NB'] == 12] >= 30).all()
    stamps = fits.getdata(output(run_dir, 'piff_interp_runner', f'galaxy_psf-{EXPOSURE}-13.fits'))
    assert stamps['VIGNET'].shape == (5, 51, 51)
    assert (stamps['FLAG_PSF_HSM'] == 0).all()
    assert 'CCD 14 has no PSF model' in logs(run_dir, 'piff_interp_runner')


def test_piff_model_with_pickled_parts_is_refused(field, tmp_path):
    from shapepipe.errors import InputError
    from shapepipe.psf.piff.model import load_model
    _, run_dir, _ = field
    with fits.open(output(run_dir, 'piff_runner', f'piff_model-{EXPOSURE}.piff')) as hdul:
        extra = fits.BinTableHDU(name='psf_wcs')
        fits.HDUList([h.copy() for h in hdul] + [extra]).writeto(tmp_path / 'bad.piff')
    with pytest.raises(InputError, match='pickled psf_wcs'):
        load_model(str(tmp_path / 'bad.piff'))


def test_evaluation_equals_mccds_own(field):
    """Our batched RBF evaluation = mccd's estimate_psf; our stamps are centred."""
    _, run_dir, _ = field
    model = MCCDModel(output(run_dir, 'mccd_fit_val_runner', f'fitted_model-{EXPOSURE}.npz'))
    x, y = np.array([100.0, 1500.0, 900.0]), np.array([300.0, 4000.0, 2200.0])
    ours = model.raw_stamps(12, x, y)
    theirs = model.model.estimate_psf(focal_plane_positions(12, x, y), 12)
    np.testing.assert_allclose(ours / ours.sum(axis=(1, 2))[:, None, None], theirs,
                               atol=1e-10 * theirs.max())
    for stamp in model.stamps(12, x, y):
        moments = galsim.hsm.FindAdaptiveMom(galsim.Image(stamp))
        centre = galsim.Image(stamp).true_center
        assert abs(moments.moments_centroid.x - centre.x) < 0.01
        assert abs(moments.moments_centroid.y - centre.y) < 0.01


@pytest.mark.parametrize('kind', ['mccd', 'piff'])
def test_multi_epoch_store_holds_the_model_at_every_epoch(field, tmp_path, kind):
    """MULTI-EPOCH writes psfex_interp's store: one stamp and HSM shapes per object-epoch;
    epochs on a CCD without a model are left out, objects without any epoch are 'empty'."""
    from astropy.wcs import WCS
    from shapepipe.io.epochs import open_object_store
    from shapepipe.psf.mccd.interpolate import interpolate_epochs
    _, run_dir, _ = field
    wcs = {}
    for ccd in (12, 13, 14):
        w = WCS(naxis=2)
        w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
        w.wcs.crval = [150.0 + ccd, 2.0]
        w.wcs.crpix = [1024.0, 2306.0]
        w.wcs.cdelt = [-PIXEL_SCALE / 3600, PIXEL_SCALE / 3600]
        wcs[ccd] = w
    headers = {EXPOSURE: [{'ccd': ccd, 'WCS': w} for ccd, w in wcs.items()]}
    pixels = [(12, 500.0, 800.0), (13, 1500.0, 3000.0), (14, 900.0, 900.0), (-1, 0, 0)]
    ra, dec = np.transpose([wcs[c].all_pix2world(x, y, 1) if c > 0 else (0.0, 0.0)
                            for c, x, y in pixels])
    objects = Table({'NUMBER': np.arange(1, 5), 'XWIN_WORLD': ra, 'YWIN_WORLD': dec})
    epoch = Table({'EXP_NAME': [EXPOSURE] * 4, 'CCD_N': [c for c, _, _ in pixels]})
    catalog = tmp_path / 'tile_sexcat-000-000.fits'
    hdus = [fits.PrimaryHDU(), fits.BinTableHDU(), fits.table_to_hdu(objects),
            fits.table_to_hdu(epoch)]
    hdus[3].name = 'EPOCH_0'
    fits.HDUList(hdus).writeto(catalog)
    out = tmp_path / 'galaxy_psf-000-000.sqlite'
    if kind == 'mccd':
        where, pattern, ext, loader = 'mccd_fit_val_runner', 'fitted_model', '.npz', MCCDModel
    else:
        where, pattern, ext, loader = 'piff_runner', 'piff_model', '.piff', PiffModel
    counts = interpolate_epochs(str(catalog), os.path.join(run_dir, where, 'output'), pattern,
                                '-', headers, str(out), ext=ext, loader=loader)
    assert counts == (4, 2, 1)
    model = loader(output(run_dir, where, f'{pattern}-{EXPOSURE}{ext}'))
    with open_object_store(str(out)) as store:
        for number, (ccd, x, y) in zip(('1', '2'), pixels):
            entry = store[number][f'{EXPOSURE}-{ccd}']
            expected = model.stamps(ccd, [x], [y])[0]
            np.testing.assert_allclose(entry['VIGNET'], expected, atol=1e-6 * expected.max())
            assert entry['SHAPES']['FLAG_PSF_HSM'] == 0
        assert store['3'] == 'empty' and store['4'] == 'empty'
