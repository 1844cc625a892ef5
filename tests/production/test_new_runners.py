"""random_cat, pastecat and match_external through shapepipe_run, on a
simulated tile and its truth."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.commands.simulate import main as simulate_main
from shapepipe.modules.sextractor_package.command import build_command

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SEX = os.path.join(REPO, 'example', 'GOLD', 'sextractor_default')
SEX_EXE = shutil.which('source-extractor') or shutil.which('sex')
TILE = '-277-282'


def run(workdir, section, module, extra=''):
    """Run one module with shapepipe_run on the files of ``workdir/inputs``."""
    config = workdir / f'config_{module}.ini'
    config.write_text(f"""[DEFAULT]
VERBOSE = False
RUN_NAME = run_{module}
[EXECUTION]
MODULE = {module}
SEED = 7
[FILE]
INPUT_DIR = {workdir / 'inputs'}
OUTPUT_DIR = {workdir / 'output'}
[{section}]
NUMBERING_SCHEME = -000-000
{extra}
""")
    result = subprocess.run([os.path.join(BIN, 'shapepipe_run'), '-c', str(config)],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    runs = sorted((workdir / 'output').glob(f'run_{module}_*'))
    return runs[-1] / module / 'output'


@pytest.fixture(scope='module')
def tile(tmp_path_factory):
    """The test preset's tile, its truth and a Source Extractor catalogue of it."""
    if SEX_EXE is None:
        pytest.fail('source-extractor is needed (make install)')
    work = tmp_path_factory.mktemp('runners')
    sim = work / 'sim'
    assert simulate_main(['-o', str(sim), '--preset', 'test', '--seed', '11',
                          '--n-exposures', '1']) == 0
    inputs = work / 'inputs'
    inputs.mkdir()
    image = inputs / f'CFIS_image{TILE}.fits'
    shutil.copy(sim / 'input_tiles' / 'CFIS.277.282.r.fits', image)
    catalog = inputs / f'tile_sexcat{TILE}.fits'
    flag = work / 'flag.fits'
    fits.PrimaryHDU(np.zeros(fits.getdata(image).shape, np.int16)).writeto(flag)
    subprocess.run(build_command(SEX_EXE, str(image), str(catalog),
                                 os.path.join(SEX, 'default_tile.sex'),
                                 os.path.join(SEX, 'default.param'),
                                 os.path.join(SEX, 'default.conv'), flag=str(flag),
                                 zero_point=30.0),
                   check=True, capture_output=True, cwd=work)
    truth = fits.getdata(sim / 'truth.fits', 'TRUTH')
    return work, image, catalog, truth


def test_match_external_recovers_the_truth(tile):
    work, image, catalog, truth = tile
    out = run(work, 'MATCH_EXTERNAL_RUNNER', 'match_external_runner', f"""
TOLERANCE = 0.5
COL_MATCH = XWIN_WORLD, YWIN_WORLD
MODE = CLASSIC
EXTERNAL_CAT_PATH = {work / 'sim' / 'truth.fits'}
EXTERNAL_COL_MATCH = ra, dec
EXTERNAL_COL_COPY = id, mag, is_star
EXTERNAL_HDU = 1
OUTPUT_DISTANCE = True
""")
    matched = fits.getdata(out / f'cat_matched{TILE}.fits', 'MATCHED')
    detected = fits.getdata(catalog, 2)
    header = fits.getheader(image)
    # Truth objects brighter than 23 inside the tile: at least 90% matched within 0.5"
    inside = ((truth['x_tile'] > 20) & (truth['x_tile'] < header['NAXIS1'] - 20)
              & (truth['y_tile'] > 20) & (truth['y_tile'] < header['NAXIS2'] - 20)
              & (truth['mag'] < 23))
    assert inside.sum() >= 15
    recovered = np.isin(truth['id'][inside], matched['id'])
    assert recovered.mean() >= 0.9, recovered.mean()
    assert (matched['distance'] < 0.5).all()
    assert np.percentile(matched['distance'][matched['mag'] < 22], 90) < 0.15
    # Every input column is kept, and the copied truth agrees with the measurement
    assert set(detected.columns.names) <= set(matched.columns.names)
    bright = matched['mag'] < 21
    assert np.median(np.abs(matched['MAG_AUTO'][bright] - matched['mag'][bright])) < 0.1
    # MARK_NON_MATCHED: every object written, the unmatched marked
    out = run(work, 'MATCH_EXTERNAL_RUNNER', 'match_external_runner', f"""
TOLERANCE = 0.5
COL_MATCH = XWIN_WORLD, YWIN_WORLD
EXTERNAL_CAT_PATH = {work / 'sim' / 'truth.fits'}
EXTERNAL_COL_MATCH = ra, dec
EXTERNAL_COL_COPY = mag
MARK_NON_MATCHED = -99
PREFIX = all_matched
""")
    everything = fits.getdata(out / f'all_matched{TILE}.fits', 'MATCHED')
    assert len(everything) == len(detected)
    assert (everything['mag'] == -99).sum() == len(detected) - len(matched)


def test_pastecat_keeps_every_column(tile):
    work, image, catalog, truth = tile
    detected = fits.getdata(catalog, 2)
    extra = fits.BinTableHDU.from_columns([
        fits.Column(name='NUMBER', format='J', array=detected['NUMBER']),
        fits.Column(name='SNR', format='E', array=detected['FLUX_AUTO'] / detected['FLUXERR_AUTO']),
    ])
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(), extra]).writeto(
        work / 'inputs' / f'snr_cat{TILE}.fits')
    out = run(work, 'PASTECAT_RUNNER', 'pastecat_runner', """
FILE_PATTERN = tile_sexcat, snr_cat
FILE_EXT = .fits, .fits
EXT_NAME = OBJECTS, SNR
CHECK_COL_NAME = NUMBER
""")
    with fits.open(out / f'cat_pasted{TILE}.fits') as hdul:
        assert [h.name for h in hdul[1:]] == ['OBJECTS', 'SNR']
        assert hdul['OBJECTS'].columns.names == detected.columns.names
        for name in detected.columns.names:
            np.testing.assert_array_equal(hdul['OBJECTS'].data[name], detected[name])
        np.testing.assert_array_equal(hdul['SNR'].data['SNR'], extra.data['SNR'])
    # Catalogues of different objects are refused (CHECK_COL_NAME)
    shuffled = extra.copy()
    shuffled.data['NUMBER'] = shuffled.data['NUMBER'][::-1]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(), shuffled]).writeto(
        work / 'inputs' / f'snr_cat{TILE}.fits', overwrite=True)
    config_out = work / 'output'
    before = set(config_out.iterdir())
    with pytest.raises(AssertionError):
        run(work, 'PASTECAT_RUNNER', 'pastecat_runner', """
FILE_PATTERN = tile_sexcat, snr_cat
FILE_EXT = .fits, .fits
CHECK_COL_NAME = NUMBER
""")
    newest = sorted(set(config_out.iterdir()) - before)[-1]
    assert not list((newest / 'pastecat_runner' / 'output').iterdir())


def test_random_cat_follows_mask_and_footprint(tile):
    work, image, catalog, truth = tile
    header = fits.getheader(image)
    ny, nx = header['NAXIS2'], header['NAXIS1']
    mask = np.zeros((ny, nx), np.int16)
    mask[:, : nx // 4] = 1024                      # outside the footprint (no data)
    yy, xx = np.mgrid[:ny, :nx]
    disc = (xx - 0.6 * nx) ** 2 + (yy - 0.5 * ny) ** 2 < (0.15 * nx) ** 2
    mask[disc] |= 2                                 # a star halo
    fits.PrimaryHDU(mask).writeto(work / 'inputs' / f'pipeline_flag{TILE}.fits', overwrite=True)
    density = 2e6                                   # per deg^2
    out = run(work, 'RANDOM_CAT_RUNNER', 'random_cat_runner', f"""
FILE_PATTERN = CFIS_image, pipeline_flag
N_RANDOM = {density}
DENSITY = True
SAVE_MASK_AS_HEALPIX = True
HEALPIX_OUT_NSIDE = 512
""")
    randoms = fits.getdata(out / f'random_cat{TILE}.fits')
    wcs = WCS(header)
    area_pix = abs(np.linalg.det(wcs.pixel_scale_matrix))
    unmasked = (mask == 0).sum()
    expected = density * unmasked * area_pix
    assert abs(len(randoms) - expected) <= 1
    # No point on a masked pixel; positions consistent with x, y through the WCS
    col = np.floor(randoms['x'] - 0.5).astype(int)
    row = np.floor(randoms['y'] - 0.5).astype(int)
    assert (mask[row, col] == 0).all()
    ra, dec = wcs.all_pix2world(randoms['x'], randoms['y'], 1)
    np.testing.assert_allclose(ra, randoms['RA'], atol=1e-9)
    np.testing.assert_allclose(dec, randoms['DEC'], atol=1e-9)
    assert np.all(randoms['TILE_ID'] == 277.282)
    # Uniform over the unmasked area: the upper half holds its share within 4 sigma
    share = (mask[ny // 2:] == 0).sum() / unmasked
    upper = np.mean(randoms['y'] > ny / 2 + 0.5)
    assert abs(upper - share) < 4 * np.sqrt(share * (1 - share) / len(randoms))
    # The HEALPix mask: unmasked fraction in [0, 1] on the tile, NaN elsewhere
    hp = fits.getdata(out / f'mask_hp{TILE}.fits')['flux']
    assert len(hp) == 12 * 512 ** 2
    on = np.isfinite(hp)
    assert 0 < on.sum() < 200 and ((hp[on] >= 0) & (hp[on] <= 1)).all()
    assert 0.3 < np.nansum(hp * 0 + 1) and 0.2 < np.nanmean(hp) < 0.8
