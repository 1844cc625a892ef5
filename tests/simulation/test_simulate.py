"""The simulator writes CFIS-like files consistent with its truth."""

import os

import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.commands.simulate import main as simulate_main
from shapepipe.errors import ConfigError
from shapepipe.simulation.simulate import settings_for, simulate


@pytest.fixture(scope='module')
def field(tmp_path_factory):
    out = tmp_path_factory.mktemp('sim') / 'run'
    assert simulate_main(['-o', str(out), '--preset', 'test', '--seed', '7']) == 0
    truth = fits.getdata(out / 'truth.fits', 'TRUTH')
    meta = fits.getdata(out / 'truth.fits', 'EXPOSURES')
    return out, truth, meta


def test_files_and_names(field):
    out, _, meta = field
    names = sorted(os.listdir(out / 'input_exposures'))
    odometers = [str(o) for o in meta['odometer']]
    assert names == sorted(f'{o}p{k}.fits.fz' for o in odometers for k in ('', '.weight', '.flag'))
    assert sorted(os.listdir(out / 'input_tiles')) == ['CFIS.277.282.r.fits',
                                                       'CFIS.277.282.r.weight.fits.fz']
    assert (out / 'tile_numbers.txt').read_text() == '277.282\n'
    assert sorted(os.listdir(out / 'output_star_cat')) == sorted(
        [f'star_cat-{o}-13.cat' for o in odometers] + ['star_cat-277-282.cat'])


def test_mosaic_structure_and_wcs_round_trip(field):
    out, _, meta = field
    with fits.open(out / 'input_exposures' / f'{meta["odometer"][0]}p.fits.fz') as hdul:
        assert len(hdul) == 2 and hdul[1].name == 'ccd13'
        assert isinstance(hdul[1], fits.CompImageHDU)
        assert hdul[1].compression_type == 'RICE_1'
        header = hdul[1].header
        assert header['CTYPE1'] == 'RA---TPV' and header['PV1_7'] != 0
        assert hdul[1].data.shape == (4644, 2112)
        assert header['DATASEC'] == '[33:2080,1:4612]'
        assert abs(header['FSCALE'] - 10 ** (-0.4 * (header['PHOTZP'] - 30))) < 1e-9
    wcs = WCS(header)
    x, y = np.meshgrid(np.linspace(33, 2080, 7), np.linspace(1, 4612, 9))
    ra, dec = wcs.all_pix2world(x.ravel(), y.ravel(), 1)
    x2, y2 = wcs.all_world2pix(ra, dec, 1)
    ra2, dec2 = wcs.all_pix2world(x2, y2, 1)
    error_mas = np.hypot((ra2 - ra) * np.cos(np.radians(dec)), dec2 - dec) * 3.6e6
    assert error_mas.max() < 1.0
    with fits.open(out / 'input_exposures' / f'{meta["odometer"][0]}p.flag.fits.fz') as hdul:
        assert hdul[1].data.dtype.kind == 'i'
        assert (hdul[1].data[:, :32] & 1).all()   # overscan flagged
    with fits.open(out / 'input_tiles' / 'CFIS.277.282.r.fits') as hdul:
        history = [str(h).strip() for h in hdul[0].header['HISTORY']]
        assert history == [f'{o}p.fits' for o in meta['odometer']]
        assert hdul[0].header['PHOTZP'] == 30.0


def _bright_isolated(truth, index_col, mags=(17.6, 19.5)):
    stars = truth[truth['is_star'] & (truth['mag'] > mags[0]) & (truth['mag'] < mags[1])]
    keep = []
    for row in stars:
        d = np.hypot((truth['ra'] - row['ra']) * np.cos(np.radians(row['dec'])),
                     truth['dec'] - row['dec']) * 3600
        edge_ok = index_col is None or (
            row[index_col] >= 0 and 60 < row[index_col.replace('ccd', 'x')] < 2050
            and 30 < row[index_col.replace('ccd', 'y')] < 4580)
        if np.sort(d)[1] > 8 and edge_ok:
            keep.append(row)
    return keep


def _centroid_and_flux(data, x, y, radius):
    """Adaptive-moment centroid (1-indexed pixels) and aperture flux around (x, y)."""
    ix, iy = int(round(x)) - 1, int(round(y)) - 1
    cut = data[iy - radius:iy + radius + 1, ix - radius:ix + radius + 1].astype(float)
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    cut = cut - np.median(data[iy - 3 * radius:iy + 3 * radius, ix - 3 * radius:ix + 3 * radius])
    image = galsim.Image(cut, xmin=ix + 1 - radius, ymin=iy + 1 - radius)
    centroid = galsim.hsm.FindAdaptiveMom(image).moments_centroid
    return centroid.x, centroid.y, cut[np.hypot(xx, yy) <= radius].sum()


def test_truth_positions_and_fluxes_in_every_exposure(field):
    out, truth, meta = field
    for i, exposure in enumerate(meta):
        with fits.open(out / 'input_exposures' / f'{exposure["odometer"]}p.fits.fz') as hdul:
            data = hdul[1].data
        stars = _bright_isolated(truth, f'ccd_{i}')
        assert len(stars) >= 5
        ratios = []
        for row in stars:
            cx, cy, flux = _centroid_and_flux(data, row[f'x_{i}'], row[f'y_{i}'], 14)
            assert abs(cx - row[f'x_{i}']) < 0.1 and abs(cy - row[f'y_{i}']) < 0.1
            ratios.append(flux / 10 ** (-0.4 * (row['mag'] - exposure['photzp'])))
        # A 14-pixel aperture holds ~97-99% of a beta=3 Moffat of FWHM 0.6-0.8".
        assert 0.95 < np.median(ratios) < 1.01


def test_truth_positions_and_fluxes_in_tile(field):
    out, truth, _ = field
    data = fits.getdata(out / 'input_tiles' / 'CFIS.277.282.r.fits')
    inside = (truth['x_tile'] > 50) & (truth['x_tile'] < data.shape[1] - 50) & (
        truth['y_tile'] > 50) & (truth['y_tile'] < data.shape[0] - 50) & (truth['ccd_0'] >= 0) & (
        truth['ccd_1'] >= 0)
    stars = _bright_isolated(truth[inside], None, mags=(17.6, 22.0))
    assert len(stars) >= 2
    for row in stars:
        cx, cy, flux = _centroid_and_flux(data, row['x_tile'], row['y_tile'], 14)
        assert abs(cx - row['x_tile']) < 0.1 and abs(cy - row['y_tile']) < 0.1
        assert 0.95 < flux / row['flux'] < 1.02


def test_same_seed_same_files(field, tmp_path):
    out, _, meta = field
    assert simulate_main(['-o', str(tmp_path / 'again'), '--preset', 'test', '--seed', '7']) == 0
    name = f'{meta["odometer"][1]}p.fits.fz'
    with fits.open(out / 'input_exposures' / name) as a, \
            fits.open(tmp_path / 'again' / 'input_exposures' / name) as b:
        assert np.array_equal(a[1].data, b[1].data)
    assert np.array_equal(fits.getdata(out / 'input_tiles' / 'CFIS.277.282.r.fits'),
                          fits.getdata(tmp_path / 'again' / 'input_tiles' / 'CFIS.277.282.r.fits'))


def test_bad_settings(tmp_path, capsys):
    with pytest.raises(ConfigError, match='no CCDs'):
        simulate(str(tmp_path / 'x'), settings_for('test', ccds=()))
    with pytest.raises(ConfigError, match='does not overlap tile 277.282'):
        simulate(str(tmp_path / 'x'), settings_for('test', dither_arcmin=600.0))
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'something').write_text('x')
    assert simulate_main(['-o', str(tmp_path / 'full'), '--preset', 'test']) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'not empty' in err and '--overwrite' in err


def test_shear_options(tmp_path):
    from shapepipe.simulation.sources import make_galaxies
    rng = np.random.default_rng(1)
    pairs = make_galaxies(rng, 220.0, 51.0, 0.02, 0.02, -0.01, rotated_pairs=True)
    assert np.allclose(pairs['e1_int'][1::2], -pairs['e1_int'][0::2])
    assert np.allclose(pairs['g1'], 0.02) and np.allclose(pairs['g2'], -0.01)
    field = make_galaxies(np.random.default_rng(1), 220.0, 51.0, 0.1, 0.03, 0.0,
                          shear_field='sinusoid')
    amplitude = np.hypot(field['g1'], field['g2'])
    assert amplitude.max() <= 0.03 + 1e-12 and field['g1'].std() > 0.01
    assert simulate_main(['-o', str(tmp_path / 'x'), '--preset', 'test', '--g1', '0.02',
                          '--shear-field', 'sinusoid']) == 0
    truth = fits.getdata(tmp_path / 'x' / 'truth.fits', 'TRUTH')
    galaxies = truth[~truth['is_star']]
    assert galaxies['g1'].std() > 0 and np.hypot(galaxies['g1'], galaxies['g2']).max() <= 0.02 + 1e-12


def test_demo_tile_is_covered_by_every_exposure():
    """The tile sits on the corner of the four demo CCDs in every exposure."""
    from shapepipe import cfis
    from shapepipe.simulation.simulate import PRESETS, make_exposures
    from shapepipe.simulation import focal_plane as fp

    settings = PRESETS['demo']
    ra_t, dec_t = cfis.tile_coord_from_id(settings.tile_id)
    for exposure in make_exposures(settings, ra_t, dec_t):
        hits = []
        for ccd in settings.ccds:
            x, y = fp.ccd_wcs(ccd, exposure.ra0, exposure.dec0).all_world2pix([[ra_t, dec_t]], 1)[0]
            hits.append(bool(fp.on_data(x, y, margin=-400)))   # within 400 px of the CCD
        assert all(hits), hits
