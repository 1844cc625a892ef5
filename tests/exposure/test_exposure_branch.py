"""The single-exposure branch on a simulated field, with the real
source-extractor and psfex, checked against the simulator's truth."""

import glob
import os
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tests.conftest import latest_run, run_config, run_shapepipe

if os.environ.get('CI') and not (shutil.which('source-extractor') and shutil.which('psfex')):
    pytest.fail('CI must install source-extractor and psfex (make install)')
pytestmark = pytest.mark.skipif(
    not (shutil.which('source-extractor') or shutil.which('sex')) or not shutil.which('psfex'),
    reason='needs source-extractor and psfex (make install)')


def match_truth(objects, truth):
    """Separations [arcsec] detections x truth, and each detection's nearest truth row."""
    d = np.hypot((objects['XWIN_WORLD'][:, None] - truth['ra'][None, :])
                 * np.cos(np.radians(truth['dec'][None, :])),
                 objects['YWIN_WORLD'][:, None] - truth['dec'][None, :]) * 3600
    return d, truth[d.argmin(axis=1)]


def test_split_wcs_maps_truth_to_the_same_pixels(branch):
    _, run_dir, truth, meta = branch
    for i, odometer in enumerate(meta['odometer']):
        path = os.path.join(run_dir, 'split_exp_runner', 'output', f'image-{odometer}-13.fits')
        header = fits.getheader(path)
        assert header['CTYPE1'] == 'RA---TAN-SIP'
        on = truth[f'ccd_{i}'] == 13
        x, y = WCS(header).all_world2pix(truth['ra'][on], truth['dec'][on], 1)
        offset = np.hypot(x - truth[f'x_{i}'][on], y - truth[f'y_{i}'][on])
        assert offset.max() < 0.05
    store = os.path.join(branch[0], 'output', 'log_exp_headers.sqlite')
    from shapepipe.io.exposure_headers import read_exposure_headers
    headers = read_exposure_headers(store)
    assert sorted(headers) == sorted(str(o) for o in meta['odometer'])
    assert headers[str(meta['odometer'][0])][0]['ccd'] == 13


def test_masks_flag_bright_star_halos(branch):
    _, run_dir, truth, meta = branch
    flags = fits.getdata(os.path.join(run_dir, 'mask_runner', 'output',
                                      f'pipeline_flag-{meta["odometer"][0]}-13.fits'))
    bright = truth[(truth['ccd_0'] == 13) & truth['is_star'] & (truth['mag'] < 15.5)]
    for row in bright:
        x, y = int(round(row['x_0'])) - 1, int(round(row['y_0'])) - 1
        if 60 < x < 2050 and 60 < y < 4580:
            assert flags[y, x] & (2 | 128), (row['mag'], flags[y, x])
    interior = flags[200:-200, 200:-200]
    assert (interior == 0).mean() > 0.9   # masks stay local


def test_star_selection_is_pure(branch):
    _, run_dir, truth, meta = branch
    stars = truth[truth['is_star']]
    purities = []
    for odometer in meta['odometer']:
        with fits.open(os.path.join(run_dir, 'setools_runner', 'output', 'mask',
                                    f'star_selection-{odometer}-13.fits')) as hdul:
            sel = hdul[2].data
        assert len(sel) >= 30
        d = np.hypot((sel['XWIN_WORLD'][:, None] - stars['ra'][None, :])
                     * np.cos(np.radians(stars['dec'][None, :])),
                     sel['YWIN_WORLD'][:, None] - stars['dec'][None, :]).min(axis=1) * 3600
        purities.append(np.mean(d < 0.5))
    assert min(purities) >= 0.98


def test_star_selection_is_complete(branch):
    """>= 80% of the unflagged truth stars with S/N > 50 are selected."""
    _, run_dir, truth, meta = branch
    stars = truth[truth['is_star']]
    found = wanted = 0
    for odometer in meta['odometer']:
        detections = fits.getdata(os.path.join(run_dir, 'sextractor_runner', 'output',
                                               f'sexcat-{odometer}-13.fits'), 2)
        with fits.open(os.path.join(run_dir, 'setools_runner', 'output', 'mask',
                                    f'star_selection-{odometer}-13.fits')) as hdul:
            selected = set(hdul[2].data['NUMBER'])
        d = np.hypot((detections['XWIN_WORLD'][:, None] - stars['ra'][None, :])
                     * np.cos(np.radians(stars['dec'][None, :])),
                     detections['YWIN_WORLD'][:, None] - stars['dec'][None, :]).min(axis=1)
        snr = detections['FLUX_AUTO'] / detections['FLUXERR_AUTO']
        good = ((d * 3600 < 0.5) & (snr > 50) & (detections['FLAGS'] == 0)
                & (detections['IMAFLAGS_ISO'] == 0))
        wanted += good.sum()
        found += sum(int(n) in selected for n in detections['NUMBER'][good])
    print(f'star selection completeness: {found} of {wanted}')
    assert wanted >= 20
    assert found >= 0.8 * wanted


def test_psf_models_exist_for_every_ccd(branch):
    _, run_dir, _, meta = branch
    for odometer in meta['odometer']:
        path = os.path.join(run_dir, 'psfex_runner', 'output',
                            f'star_split_ratio_80-{odometer}-13.psf')
        header = fits.getheader(path, 1)
        assert header['ACCEPTED'] >= 20
        assert header['CHI2'] < 2.0


def test_psf_model_matches_the_true_psf(branch):
    """PSFEx model (our evaluation, resampling corrected) vs the simulator's true PSF at
    validation stars: the issue's targets |<de>| < 1e-3, rms < 5e-3, |<dT/T>| < 3e-3."""
    from shapepipe.modules.psfex_interp_package.shapes import hsm_shapes
    from shapepipe.simulation.render import true_psf_stamps

    _, run_dir, _, meta = branch
    de1, de2, dsize = [], [], []
    for exposure in meta:
        odometer = exposure['odometer']
        table = fits.getdata(os.path.join(run_dirs(run_dir), f'validation_psf-{odometer}-13.fits'))
        header = fits.getheader(os.path.join(run_dir, 'split_exp_runner', 'output',
                                             f'image-{odometer}-13.fits'))
        ok = (table['FLAG_PSF_HSM'] == 0)
        ra, dec = WCS(header).all_pix2world(table['X'][ok], table['Y'][ok], 1)
        stamps = true_psf_stamps(exposure, WCS(header), ra, dec)
        t1, t2, tsig, tflag = hsm_shapes(stamps)
        de1.extend(table['E1_PSF_HSM'][ok] - t1)
        de2.extend(table['E2_PSF_HSM'][ok] - t2)
        dsize.extend(table['SIGMA_PSF_HSM'][ok] ** 2 / tsig ** 2 - 1)
    de1, de2, dsize = map(np.asarray, (de1, de2, dsize))
    print(f'PSF residuals over {len(de1)} stars: <de1> {de1.mean():.2e} <de2> {de2.mean():.2e} '
          f'rms {de1.std():.2e} {de2.std():.2e}, <dT/T> {dsize.mean():.2e}')
    assert len(de1) >= 10
    assert abs(de1.mean()) < 1e-3 and abs(de2.mean()) < 1e-3
    assert de1.std() < 5e-3 and de2.std() < 5e-3
    assert abs(dsize.mean()) < 3e-3


def run_dirs(run_dir):
    return os.path.join(run_dir, 'psfex_interp_runner', 'output')


def test_merged_star_catalogue(branch):
    sp_run, _, _, meta = branch
    table = fits.getdata(sp_run / 'psf_validation' / 'full_starcat-0000000.fits', 1)
    assert set(table['CCD_NB']) == {13}
    assert set(table['EXP_NB']) == set(meta['odometer'])
    assert len(table) >= 10 and 'E1_STAR_HSM' in table.columns.names


def test_model_evaluation_matches_galsim_des_psfex(branch):
    import galsim
    import galsim.des

    from shapepipe.modules.psfex_interp_package.psfex_model import PSFExModel

    _, run_dir, _, meta = branch
    path = os.path.join(run_dir, 'psfex_runner', 'output',
                        f'star_split_ratio_80-{meta["odometer"][0]}-13.psf')
    assert fits.getheader(path, 1)['BASISTYP'] == 'PIXEL_AUTO'
    ours = PSFExModel(path, correct_resampling=False)
    reference = galsim.des.DES_PSFEx(path)
    for x, y in [(40.0, 10.0), (1056.5, 2306.5), (2070.2, 4600.9), (700.3, 3100.7)]:
        expected = reference.getPSFArray(galsim.PositionD(x, y))
        got = ours.sampled([x], [y])[0]
        assert np.abs(got - expected).max() < 1e-6 * np.abs(expected).max()


def test_tile_detection_and_epochs(branch):
    """Tile mask + Source Extractor with multi-epoch post-processing: detections
    match the truth and EPOCH_i/CCD_N agree with the truth footprints."""
    sp_run, _, truth, meta = branch
    run_config(sp_run, 'config_tile.ini')
    run_dir = latest_run(sp_run, 'run_sp_tile_')
    with fits.open(os.path.join(run_dir, 'sextractor_runner', 'output',
                                'tile_sexcat-277-282.fits')) as hdul:
        assert [h.name for h in hdul[3:]] == [f'EPOCH_{i}' for i in range(len(meta))]
        objects = hdul[2].data
        epochs = [hdul[3 + i].data for i in range(len(meta))]
    assert 'N_EPOCH' in objects.columns.names
    for i, epoch in enumerate(epochs):
        assert set(epoch['EXP_NAME']) == {str(meta['odometer'][i])}
    # Match detections to truth within 0.2 arcsec.
    dist, _ = match_truth(objects, truth)
    nearest = dist.argmin(axis=1)
    matched = dist[np.arange(len(objects)), nearest] < 0.2
    assert matched.sum() > 0.5 * len(objects)
    checked = 0
    for i, epoch in enumerate(epochs):
        rows = truth[nearest[matched]]
        x, y = rows[f'x_{i}'], rows[f'y_{i}']
        away = (rows[f'ccd_{i}'] < 0) | ((x > 38) & (x < 2075) & (y > 6) & (y < 4607))
        ccd_true = rows[f'ccd_{i}'][away]
        ccd_found = epoch['CCD_N'][matched][away]
        assert np.array_equal(ccd_found, ccd_true)
        checked += away.sum()
    assert checked > 50
    assert np.array_equal(objects['N_EPOCH'], sum((e['CCD_N'] >= 0).astype(int) for e in epochs))
    # Completeness: isolated truth objects brighter than S/N 20, on exposure data
    # (the simulator leaves objects in every exposure's CCD gap out of the
    # stack), inside the tile and unmasked, are detected within 0.2".
    flag = fits.getdata(glob.glob(os.path.join(run_dir, 'mask_runner', 'output',
                                               'pipeline_flag-*.fits'))[0])
    snr = objects['FLUX_AUTO'] / objects['FLUXERR_AUTO']
    slope, offset = np.polyfit(truth['mag'][nearest[matched]], np.log10(snr[matched]), 1)
    mag_20 = (np.log10(20) - offset) / slope
    ny, nx = flag.shape
    x, y = truth['x_tile'], truth['y_tile']
    inside = (x > 10) & (x < nx - 10) & (y > 10) & (y < ny - 10)
    ix = np.clip(np.round(x).astype(int) - 1, 0, nx - 1)
    iy = np.clip(np.round(y).astype(int) - 1, 0, ny - 1)
    covered = sum((truth[f'ccd_{i}'] >= 0).astype(int) for i in range(len(meta))) > 0
    sep = np.hypot((truth['ra'][:, None] - truth['ra'][None, :])
                   * np.cos(np.radians(truth['dec'][:, None])),
                   truth['dec'][:, None] - truth['dec'][None, :]) * 3600
    isolated = np.sort(sep, axis=1)[:, 1] > 2.0
    wanted = inside & covered & isolated & (flag[iy, ix] == 0) & (truth['mag'] < mag_20)
    found = dist.min(axis=0) < 0.2
    assert wanted.sum() >= 10
    assert found[wanted].mean() >= 0.95


def test_multi_epoch_psf_matches_truth(branch):
    """psfex_interp MULTI-EPOCH: PSF stamps at tile galaxies vs the true PSF of each epoch."""
    from shapepipe.io.stores import open_store

    sp_run, _, truth, meta = branch
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_*')):
        test_tile_detection_and_epochs(branch)
    run_config(sp_run, 'config_psfexinterp_tile.ini')
    run_dir = latest_run(sp_run, 'run_sp_tile_psf_')
    tile_dir = latest_run(sp_run, 'run_sp_tile_2')
    objects = fits.getdata(os.path.join(tile_dir, 'sextractor_runner', 'output',
                                        'tile_sexcat-277-282.fits'), 2)
    store = open_store(os.path.join(run_dir, 'psfex_interp_runner', 'output',
                                    'galaxy_psf-277-282.sqlite'))
    assert len(store) == len(objects)
    dist, _ = match_truth(objects, truth)
    nearest, best = dist.argmin(axis=1), dist.min(axis=1)
    de1, de2, n_empty = [], [], 0
    odometers = [str(o) for o in meta['odometer']]
    for k, number in enumerate(objects['NUMBER']):
        value = store[str(number)]
        if value == 'empty':
            n_empty += 1
            assert objects['N_EPOCH'][k] == 0   # every CCD here has a PSF model
            continue
        assert len(value) == objects['N_EPOCH'][k]
        if best[k] > 0.2:
            continue
        row = truth[nearest[k]]
        for key, epoch in value.items():
            i = odometers.index(key.split('-')[0])
            assert epoch['VIGNET'].shape == (51, 51)
            de1.append(epoch['SHAPES']['E1_PSF_HSM'] - _true_psf_g(row, i, meta)[0])
            de2.append(epoch['SHAPES']['E2_PSF_HSM'] - _true_psf_g(row, i, meta)[1])
    store.close()
    assert len(de1) > 50
    print(f'ME PSF vs truth over {len(de1)} object-epochs: <de1> {np.mean(de1):.2e} '
          f'<de2> {np.mean(de2):.2e}')
    assert abs(np.mean(de1)) < 2e-3 and abs(np.mean(de2)) < 2e-3


def _true_psf_g(row, i, meta):
    """HSM shape of the true PSF (pixelised) at a truth row in exposure i."""
    from shapepipe.modules.psfex_interp_package.shapes import hsm_shapes
    from shapepipe.simulation.focal_plane import ccd_wcs
    from shapepipe.simulation.render import true_psf_stamps

    exposure = meta[i]
    wcs = ccd_wcs(int(row[f'ccd_{i}']), exposure['ra0'], exposure['dec0'])
    stamp = true_psf_stamps(exposure, wcs, [row['ra']], [row['dec']])[0]
    e1, e2, _, _ = hsm_shapes([stamp])
    return e1[0], e2[0]


def test_multi_epoch_stamps_are_centred_on_truth(branch):
    """vignetmaker MULTI-EPOCH: a bright star's stamp is centred on its truth
    position to < 0.1 pixel in every epoch; CLASSIC weight stamps exist."""
    import galsim
    from shapepipe.io.stores import open_store

    sp_run, _, truth, meta = branch
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_2*')):
        test_tile_detection_and_epochs(branch)
    run_config(sp_run, 'config_vignetmaker_tile.ini')
    run_dir = latest_run(sp_run, 'run_sp_tile_vignets_')
    weights = fits.getdata(os.path.join(run_dir, 'vignetmaker_runner_run_1', 'output',
                                        'weight_vignet-277-282.fits'))
    assert weights['VIGNET'].shape[1:] == (51, 51)
    tile_dir = latest_run(sp_run, 'run_sp_tile_2')
    objects = fits.getdata(os.path.join(tile_dir, 'sextractor_runner', 'output',
                                        'tile_sexcat-277-282.fits'), 2)
    stars = truth[truth['is_star'] & (truth['mag'] > 18) & (truth['mag'] < 20.5)]
    store = open_store(os.path.join(run_dir, 'vignetmaker_runner_run_2', 'output',
                                    'image_vignet-277-282.sqlite'))
    checked = 0
    odometers = [str(o) for o in meta['odometer']]
    for star in stars:
        d = np.hypot((objects['XWIN_WORLD'] - star['ra']) * np.cos(np.radians(star['dec'])),
                     objects['YWIN_WORLD'] - star['dec']) * 3600
        if d.min() > 0.3:
            continue
        value = store[str(objects['NUMBER'][d.argmin()])]
        if value == 'empty':
            continue
        for key, epoch in value.items():
            i = odometers.index(key.split('-')[0])
            x, y = star[f'x_{i}'], star[f'y_{i}']
            stamp = epoch['VIGNET']
            if (stamp < -1e29).any():
                continue
            sky = np.median(stamp)
            moments = galsim.hsm.FindAdaptiveMom(galsim.Image(stamp - sky, xmin=1, ymin=1))
            assert abs(moments.moments_centroid.x - 26 - (x - np.floor(x + 0.5))) < 0.1
            assert abs(moments.moments_centroid.y - 26 - (y - np.floor(y + 0.5))) < 0.1
            checked += 1
    store.close()
    assert checked >= 2


def _stamps_and_psfs(branch):
    """Run the per-epoch PSF and stamp steps if their tests have not (e.g. with -k)."""
    sp_run = branch[0]
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_vignets_*')):
        test_multi_epoch_stamps_are_centred_on_truth(branch)
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_psf_*')):
        test_multi_epoch_psf_matches_truth(branch)


def test_spread_model_on_the_tile(branch):
    """spread_model_runner on the simulated tile: stars have |SPREAD_MODEL| small."""
    sp_run, _, truth, _ = branch
    _stamps_and_psfs(branch)
    run_config(sp_run, 'config_spread_model_tile.ini')
    run_dir = latest_run(sp_run, 'run_sp_tile_sm_')
    sm = fits.getdata(os.path.join(run_dir, 'spread_model_runner', 'output',
                                   'sexcat_sm-277-282.fits'))
    tile_dir = latest_run(sp_run, 'run_sp_tile_2')
    objects = fits.getdata(os.path.join(tile_dir, 'sextractor_runner', 'output',
                                        'tile_sexcat-277-282.fits'), 2)
    assert np.array_equal(sm['NUMBER'], objects['NUMBER'])
    d, match = match_truth(objects, truth)
    stars = (d.min(axis=1) < 0.2) & match['is_star'] & (match['mag'] < 22.5) & (
        sm['SPREAD_FLAG'] == 0)
    assert stars.sum() >= 3
    assert np.mean(sm['SPREAD_MODEL'][stars] + 2 * sm['SPREADERR_MODEL'][stars] > 0.01) < 0.02
    galaxies = (d.min(axis=1) < 0.2) & ~match['is_star'] & (match['mag'] < 22.5) & (
        sm['SPREAD_FLAG'] == 0)
    assert galaxies.sum() >= 5
    c = sm['SPREAD_MODEL'][galaxies] + 2 * sm['SPREADERR_MODEL'][galaxies]
    # galaxies taken for stars: < 2% (on the demo field 2 of 154); this small
    # field has ~10, so one is allowed
    assert (np.abs(c) < 0.003).sum() <= max(1, 0.02 * len(c))
    # and most are classed galaxies (c > SM_GAL_THRESH = 0.01; the demo: 145 of 154)
    print(f'{len(c)} galaxies: {np.mean(c > 0.01):.2f} with c > 0.01')
    assert np.mean(c > 0.01) >= 0.7


def test_mean_shapes_plots(branch, tmp_path):
    from shapepipe.commands.mean_shapes import binned_mean, focal_plane_positions, main

    sp_run, _, _, _ = branch
    assert main(['-i', str(sp_run / 'psf_validation' / 'full_starcat-0000000.fits'),
                 '-o', str(tmp_path), '-x', '10']) == 0
    for name in ('psf_validation_maps.png', 'psf_validation_whiskers.png'):
        assert (tmp_path / name).stat().st_size > 10000
    # CCD 13 is centred at u = 0 and read out rotated by 180 degrees (v falls as y grows).
    u, v = focal_plane_positions(np.array([13, 13]), np.array([1056.5, 1056.5]),
                                 np.array([2306.5, 2406.5]))
    assert abs(u[0]) < 1e-9 and v[1] - v[0] == -100
    grid = binned_mean(np.array([0.5, 0.6, 3.5]), np.array([0.5, 0.5, 0.5]),
                       np.array([1.0, 3.0, 5.0]), 4, (0, 4, 0, 1))
    assert grid[0, 0] == 2.0 and grid[0, 3] == 5.0 and np.isnan(grid[0, 1])
    assert main(['-i', str(tmp_path / 'missing.fits'), '-o', str(tmp_path)]) == 2


def test_shapes_on_the_tile(branch):
    """ngmix_runner on the simulated tile: every object measured or flagged, the
    bright galaxies' shapes follow the true ones, the metacal response is sane."""
    sp_run, _, truth, _ = branch
    _stamps_and_psfs(branch)
    run_config(sp_run, 'config_ngmix_tile.ini')
    run_dir = latest_run(sp_run, 'run_sp_tile_ngmix_2')
    path = os.path.join(run_dir, 'ngmix_runner', 'output', 'ngmix-277-282.fits')
    with fits.open(path) as hdul:
        assert [h.name for h in hdul[1:]] == ['1M', '1P', '2M', '2P', 'NOSHEAR']
        tables = {h.name: h.data for h in hdul[1:]}
    ns = tables['NOSHEAR']
    tile_dir = latest_run(sp_run, 'run_sp_tile_2')
    objects = fits.getdata(os.path.join(tile_dir, 'sextractor_runner', 'output',
                                        'tile_sexcat-277-282.fits'), 2)
    assert np.array_equal(ns['id'], objects['NUMBER'])
    assert np.mean(ns['mcal_flags'] == 0) > 0.9
    d, match = match_truth(objects, truth)
    bright = ((d.min(axis=1) < 0.3) & ~match['is_star'] & (ns['s2n'] > 10)
              & (ns['flags'] == 0) & (match['hlr'] > 0.2))
    assert bright.sum() >= 6
    measured = np.concatenate([ns['g1'][bright], ns['g2'][bright]])
    intrinsic = np.concatenate([match['e1_int'][bright], match['e2_int'][bright]])
    assert np.corrcoef(measured, intrinsic)[0, 1] > 0.5
    ok = ns['mcal_flags'] == 0
    # The response of galaxies (stars, most of this field, have R ~ 0.2: they are not
    # resolved once the PSF model has the right size).
    galaxies = ok & (d.min(axis=1) < 0.3) & ~match['is_star']
    assert galaxies.sum() >= 8
    response = np.mean(tables['1P']['g1'][galaxies] - tables['1M']['g1'][galaxies]) / 0.02
    print(f'mean R11 of {galaxies.sum()} galaxies: {response:.3f}')
    assert 0.3 < response < 1.2
    assert (ns['Tpsf'][ok] > 0.5 * ns['T_psfo_ngmix'][ok]).all()


def test_final_catalogue(branch):
    """make_cat on the simulated tile: one row per detection, classification present."""
    sp_run, _, _, _ = branch
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_sm_*')):
        test_spread_model_on_the_tile(branch)
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_ngmix_*')):
        test_shapes_on_the_tile(branch)
    run_config(sp_run, 'config_make_cat.ini')
    run_dir = latest_run(sp_run, 'run_sp_make_cat_')
    final = fits.getdata(os.path.join(run_dir, 'make_cat_runner', 'output',
                                      'final_cat-277-282.fits'), 'RESULTS')
    tile_dir = latest_run(sp_run, 'run_sp_tile_2')
    objects = fits.getdata(os.path.join(tile_dir, 'sextractor_runner', 'output',
                                        'tile_sexcat-277-282.fits'), 2)
    assert len(final) == len(objects)
    assert set(final['SPREAD_CLASS']) <= {0, 1, 2} and (final['SPREAD_CLASS'] == 0).any()
    assert 'NGMIX_ELL_NOSHEAR' in final.columns.names
    measured = final['NGMIX_MCAL_FLAGS'] & (1 << 20) == 0
    assert measured.all()
    assert (final['NGMIX_ELL_NOSHEAR'][final['NGMIX_FLAGS_NOSHEAR'] == 0] != -10).all()
    with_psf = final['PSF_FLAG_1'] == 0                        # SAVE_PSF_DATA = True
    assert with_psf.mean() > 0.8
    assert (np.abs(final['PSF_ELL_1'][with_psf]) < 0.2).all()
    assert np.median(final['PSF_FWHM_1'][with_psf]) > 2.0      # pixels


SPLIT_CONFIG = """
[DEFAULT]
RUN_NAME = run_sp_tile_ngmix_split
RUN_DATETIME = True

[EXECUTION]
MODULE = ngmix_runner, ngmix_runner, merge_sep_cats_runner
MODE = SMP

[FILE]
LOG_NAME = log_sp
RUN_LOG_NAME = log_run_sp
INPUT_DIR = last:sextractor_runner, last:psfex_interp_runner, last:vignetmaker_runner_run_2
OUTPUT_DIR = $SP_RUN/output

[NGMIX_RUNNER_RUN_1]
FILE_PATTERN = tile_sexcat, image_vignet, background_vignet, galaxy_psf, weight_vignet, flag_vignet
FILE_EXT = .fits, .sqlite, .sqlite, .sqlite, .sqlite, .sqlite
NUMBERING_SCHEME = -000-000
LOG_WCS = $SP_RUN/output/log_exp_headers.sqlite
ID_OBJ_MIN = 1
ID_OBJ_MAX = 20

[NGMIX_RUNNER_RUN_2]
FILE_PATTERN = tile_sexcat, image_vignet, background_vignet, galaxy_psf, weight_vignet, flag_vignet
FILE_EXT = .fits, .sqlite, .sqlite, .sqlite, .sqlite, .sqlite
NUMBERING_SCHEME = -000-000
LOG_WCS = $SP_RUN/output/log_exp_headers.sqlite
ID_OBJ_MIN = 21
ID_OBJ_MAX = -1

[MERGE_SEP_CATS_RUNNER]
INPUT_MODULE = ngmix_runner_run_1
FILE_PATTERN = ngmix
FILE_EXT = .fits
NUMBERING_SCHEME = -000-000
N_SPLIT_MAX = 2
"""


def test_shapes_split_by_id_range_merge_to_the_whole(branch):
    """Two ngmix runs over ID ranges, merged by merge_sep_cats_runner, equal one run."""
    sp_run, _, _, _ = branch
    if not glob.glob(str(sp_run / 'output' / 'run_sp_tile_ngmix_2*')):
        test_shapes_on_the_tile(branch)
    whole_dir = latest_run(sp_run, 'run_sp_tile_ngmix_2')
    config = sp_run / 'config_ngmix_split.ini'
    config.write_text(SPLIT_CONFIG)
    result = run_shapepipe(['-c', str(config)], sp_run, env={'SP_RUN': str(sp_run)}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    split_dir = latest_run(sp_run, 'run_sp_tile_ngmix_split_')
    first = fits.getdata(os.path.join(split_dir, 'ngmix_runner_run_1', 'output',
                                      'ngmix-277-282.fits'), 'NOSHEAR')
    assert first['id'].max() <= 20
    merged = os.path.join(split_dir, 'merge_sep_cats_runner', 'output', 'ngmix-277-282.fits')
    whole = os.path.join(whole_dir, 'ngmix_runner', 'output', 'ngmix-277-282.fits')
    for kind in ('1M', '1P', '2M', '2P', 'NOSHEAR'):
        a, b = fits.getdata(merged, kind), fits.getdata(whole, kind)
        assert np.array_equal(a['id'], b['id'])
        assert np.array_equal(a['g1'], b['g1']) and np.array_equal(a['flags'], b['flags'])


def test_whole_tile_branch_config_gives_the_same_catalogue(branch):
    """config_tile_branch.ini (one run) reproduces the final catalogue of the
    step-by-step configs, column for column."""
    sp_run, _, _, _ = branch
    if not glob.glob(str(sp_run / 'output' / 'run_sp_make_cat_*')):
        test_final_catalogue(branch)
    run_config(sp_run, 'config_tile_branch.ini')
    step_dir = latest_run(sp_run, 'run_sp_make_cat_')
    one_dir = latest_run(sp_run, 'run_sp_tile_branch_')
    step = fits.getdata(os.path.join(step_dir, 'make_cat_runner', 'output',
                                     'final_cat-277-282.fits'), 'RESULTS')
    one = fits.getdata(os.path.join(one_dir, 'make_cat_runner', 'output',
                                    'final_cat-277-282.fits'), 'RESULTS')
    assert step.columns.names == one.columns.names and len(step) == len(one)
    for name in ('NUMBER', 'SPREAD_CLASS', 'NGMIX_ELL_NOSHEAR', 'NGMIX_ELL_1P', 'PSF_ELL_1'):
        assert np.array_equal(step[name], one[name]), name


def test_epoch_stores_written_in_chunks_equal_one_pass(branch, tmp_path):
    """vignetmaker and psfex_interp MULTI-EPOCH write their stores a chunk of
    objects at a time; any chunk size gives the same store, entry for entry."""
    from shapepipe.io.exposure_headers import read_exposure_headers
    from shapepipe.io.stores import open_store
    from shapepipe.modules.psfex_interp_package.multi_epoch import interpolate_epochs
    from shapepipe.modules.vignetmaker_package.multi_epoch import multi_epoch_stamps

    sp_run, run_dir, _, _ = branch
    _stamps_and_psfs(branch)
    catalog = os.path.join(latest_run(sp_run, 'run_sp_tile_2'), 'sextractor_runner', 'output',
                           'tile_sexcat-277-282.fits')
    headers = read_exposure_headers(str(sp_run / 'output' / 'log_exp_headers.sqlite'))
    images = os.path.join(run_dir, 'split_exp_runner', 'output')
    psfs = [os.path.join(run_dir, 'psfex_runner', 'output')]
    for chunk in (7, 10 ** 6):
        counts = multi_epoch_stamps(catalog, [images], 'image', headers,
                                    str(tmp_path / f'image_{chunk}.sqlite'), 51, chunk=chunk)
        assert counts[1] > 0 and counts[2] == 0
        counts = interpolate_epochs(catalog, psfs, 'star_split_ratio_80', headers,
                                    str(tmp_path / f'psf_{chunk}.sqlite'), chunk=chunk)
        assert counts[1] > 0
    for kind in ('image', 'psf'):
        with open_store(str(tmp_path / f'{kind}_7.sqlite')) as small, \
                open_store(str(tmp_path / f'{kind}_1000000.sqlite')) as whole:
            assert list(small.keys()) == list(whole.keys())
            for number in whole.keys():
                a, b = small[number], whole[number]
                assert type(a) is type(b)
                if isinstance(b, dict):
                    assert list(a) == list(b)
                    for epoch in b:
                        assert np.array_equal(a[epoch]['VIGNET'], b[epoch]['VIGNET'])
                        assert a[epoch].get('SHAPES') == b[epoch].get('SHAPES')
