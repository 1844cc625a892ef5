"""Mask module on a synthetic image with a galsim WCS and a star catalogue."""

import logging
import os
import subprocess
import sys

import galsim
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.errors import ConfigError, ExecutableError, JobSkipped
from shapepipe.io.star_catalog import write_star_catalog
from shapepipe.modules.mask_package.config_file import read_mask_config
from shapepipe.modules.mask_package.mask import build_mask, write_flag_file
from shapepipe.modules.mask_package.polygons import read_polygon_template

NX, NY = 400, 300
PIXEL_SCALE = 0.187
HALO_R = 30.0            # template radius at the pivot (pixels)
SPIKE_L, SPIKE_W = 40.0, 2.0
MAG_PIVOT = 13.8

# Stars: (x, y) 0-based pixel positions and magnitude.
STARS = [
    (120.0, 150.0, 12.0),   # halo + spikes
    (300.0, 80.0, 15.0),    # spikes only
    (300.0, 230.0, 19.5),   # too faint: nothing
]
NO_MAG_STAR = (60.0, 240.0)


def make_wcs():
    affine = galsim.AffineTransform(-PIXEL_SCALE, 0.0, 0.0, PIXEL_SCALE,
                                    origin=galsim.PositionD(NX / 2, NY / 2))
    centre = galsim.CelestialCoord(150.0 * galsim.degrees, 30.0 * galsim.degrees)
    return galsim.TanWCS(affine, centre, units=galsim.arcsec)


def sky_of(wcs, x, y):
    # galsim positions are 1-based (true_center of a 1-based image)
    coord = wcs.toWorld(galsim.PositionD(x + 1.0, y + 1.0))
    return coord.ra.deg, coord.dec.deg


@pytest.fixture
def field(tmp_path):
    """Image, weight, external flag, star catalogue, templates and a .mask file."""
    wcs = make_wcs()
    image = galsim.ImageF(NX, NY, wcs=wcs)
    image.array[:] = 100.0
    image.array[10:14, 200:203] = 0.0          # missing data
    image.write(str(tmp_path / 'image-1-0.fits'))
    weight = galsim.ImageF(NX, NY, wcs=wcs)
    weight.array[:] = 1.0
    weight.array[20, 210] = 0.0               # missing weight
    weight.write(str(tmp_path / 'weight-1-0.fits'))
    ext = np.zeros((NY, NX), dtype=np.int16)
    ext[150, 120] = 1                           # inside the bright star's halo
    ext[100, 200] = 512                         # away from everything
    fits.PrimaryHDU(ext).writeto(tmp_path / 'flag-1-0.fits')

    ra, dec, mag = [], [], []
    for x, y, m in STARS:
        r, d = sky_of(wcs, x, y)
        ra.append(r), dec.append(d), mag.append(m)
    r, d = sky_of(wcs, *NO_MAG_STAR)
    ra.append(r), dec.append(d), mag.append(np.nan)
    # a far-away star (other side of the sky) must be harmless
    ra.append(330.0), dec.append(-30.0), mag.append(8.0)
    write_star_catalog(tmp_path / 'star_cat-1-0.cat', ra, dec, mag)

    angles = np.linspace(0, 2 * np.pi, 33)[:-1]
    halo = '\n'.join(f'{HALO_R * np.cos(a):.4f} {HALO_R * np.sin(a):.4f}' for a in angles)
    (tmp_path / 'halo.txt').write_text('# halo\n' + halo + '\n')
    L, W = SPIKE_L, SPIKE_W
    (tmp_path / 'spike.txt').write_text(
        f'{-L} {-W}\n{L} {-W}\n{L} {W}\n{-L} {W}\n\n'
        f'# vertical\n{-W} {-L}\n{W} {-L}\n{W} {L}\n{-W} {L}\n')
    dso = tmp_path / 'dso.ecsv'
    dso_ra, dso_dec = sky_of(wcs, 330.0, 160.0)
    dso.write_text(
        '# %ECSV 1.0\n# ---\n# datatype:\n# - {name: name, datatype: string}\n'
        '# - {name: ra, unit: deg, datatype: float64}\n'
        '# - {name: dec, unit: deg, datatype: float64}\n'
        '# - {name: size_X, unit: arcmin, datatype: float64}\n'
        '# - {name: size_Y, unit: arcmin, datatype: float64}\n'
        'name ra dec size_X size_Y\n'
        f'TEST1 {dso_ra:.8f} {dso_dec:.8f} 0.03 0.02\n'
        'FAR 10.0 -40.0 5.0 5.0\n')
    write_mask_config(tmp_path / 'test.mask', tmp_path)
    return tmp_path, wcs


def write_mask_config(path, base, border_width=7, border_flag=8, extra=''):
    path.write_text(f"""
[PROGRAM_PATH]
CDSCLIENT_PATH = findgsc2.2-not-installed
WW_PATH = ww

[BORDER_PARAMETERS]
BORDER_MAKE = True
BORDER_WIDTH = {border_width}
BORDER_FLAG_VALUE = {border_flag}

[HALO_PARAMETERS]
HALO_MAKE = True
HALO_MASKMODEL_PATH = {base}/halo.txt
HALO_MAG_LIM = 13.
HALO_SCALE_FACTOR = 0.05
HALO_MAG_PIVOT = {MAG_PIVOT}
HALO_FLAG_VALUE = 2
HALO_REG_FILE = halo.reg

[SPIKE_PARAMETERS]
SPIKE_MAKE = True
SPIKE_MASKMODEL_PATH = {base}/spike.txt
SPIKE_MAG_LIM = 18.
SPIKE_SCALE_FACTOR = 0.3
SPIKE_MAG_PIVOT = {MAG_PIVOT}
SPIKE_FLAG_VALUE = 128

[MESSIER_PARAMETERS]
MESSIER_MAKE = True
MESSIER_CAT_PATH = dso.ecsv
MESSIER_SIZE_PLUS = 0.
MESSIER_FLAG_VALUE = 16

[NGC_PARAMETERS]
NGC_MAKE = False

[MD_PARAMETERS]
MD_MAKE = True
MD_THRESH_FLAG = 0.3
MD_THRESH_REMOVE = 0.75
MD_REMOVE = False

[EXTERNAL_FLAG]
EF_MAKE = True

[OTHER]
TEMP_DIRECTORY = .temp
KEEP_REG_FILE = False
{extra}
""")


def run_mask(base, **kwargs):
    config = read_mask_config(str(base / 'test.mask'))
    return build_mask(str(base / 'image-1-0.fits'), str(base / 'weight-1-0.fits'), config,
                      flag_path=str(base / 'flag-1-0.fits'),
                      star_cat_path=str(base / 'star_cat-1-0.cat'), **kwargs)


def radius_map(x0, y0):
    yy, xx = np.mgrid[0:NY, 0:NX]
    return np.hypot(xx - x0, yy - y0)


def test_flags_cover_stars_and_nothing_else(field, caplog):
    base, _ = field
    with caplog.at_level(logging.WARNING):
        flag, header, summary = run_mask(base, log=logging.getLogger('test_mask'))
    assert flag.dtype == np.int16 and flag.shape == (NY, NX)

    # bright star: halo and spike bits at its position, halo radius scaled by magnitude
    x0, y0, m0 = STARS[0]
    assert flag[int(y0), int(x0)] & 2 and flag[int(y0), int(x0)] & 128
    r_halo = HALO_R * (1 - 0.05 * (m0 - MAG_PIVOT))
    r = radius_map(x0, y0)
    halo = (flag & 2) > 0
    assert halo[r <= r_halo - 1.0].all()          # polygon of 32 vertices: 0.5% inside
    assert not halo[r > r_halo + 0.5].any()
    # spikes extend to L*scale along the axes
    l0 = SPIKE_L * (1 - 0.3 * (m0 - MAG_PIVOT))
    assert flag[int(y0), int(x0 + l0 - 1)] & 128
    assert not flag[int(y0), int(x0 + l0 + 2)] & 128

    # medium star: spikes only
    x1, y1, m1 = STARS[1]
    assert flag[int(y1), int(x1)] == 128
    # faint star: nothing
    x2, y2, _ = STARS[2]
    assert flag[int(y2), int(x2)] == 0
    # no-magnitude star: not masked, but counted and warned about
    assert flag[int(NO_MAG_STAR[1]), int(NO_MAG_STAR[0])] == 0
    assert summary.n_stars_no_mag == 1 and header['NSTNOMAG'] == 1
    assert any('no magnitude' in rec.message for rec in caplog.records)
    assert summary.n_halo_stars == 1 and summary.n_spike_stars == 2

    # Messier disc: radius max(size) = 0.03 arcmin = 1.8 arcsec = 9.63 pixels
    r_dso = 0.03 * 60 / PIXEL_SCALE
    r = radius_map(330.0, 160.0)
    dso = (flag & 16) > 0
    assert dso[r <= r_dso - 0.1].all() and not dso[r > r_dso + 0.1].any()
    assert summary.messier == ['TEST1']

    # missing data, external flags merged with a bitwise or
    assert (flag[10:14, 200:203] == 1024).all() and flag[20, 210] == 1024
    assert flag[150, 120] == 2 | 128 | 1
    assert flag[100, 200] == 512
    assert header['MRATIO'] == pytest.approx(13 / (NX * NY))

    # border: exactly BORDER_WIDTH pixels with BORDER_FLAG_VALUE
    assert (flag[:7, :] & 8).all() and (flag[-7:, :] & 8).all()
    assert (flag[:, :7] & 8).all() and (flag[:, -7:] & 8).all()
    assert not (flag[7:-7, 7:-7] & 8).any()

    # nothing else anywhere
    expected = np.zeros_like(flag)
    for (x, y, m), lim in zip(STARS, (True, True, False)):
        if not lim:
            continue
        s = 1 - 0.3 * (m - MAG_PIVOT)
        rr = radius_map(x, y)
        near = (rr <= max(HALO_R * 1.1, SPIKE_L * s * 1.5) + 2)
        expected[near] = 1
    expected[radius_map(330.0, 160.0) <= r_dso + 1] = 1
    expected[10:14, 200:203] = 1
    expected[20, 210] = expected[100, 200] = 1
    stray = (flag != 0) & (expected == 0)
    stray[:7, :] = stray[-7:, :] = stray[:, :7] = stray[:, -7:] = False
    assert not stray.any()


def test_output_file_keeps_wcs(field):
    base, wcs = field
    flag, header, _ = run_mask(base)
    out = base / 'pipeline_flag-1-0.fits'
    write_flag_file(str(out), flag, header)
    with fits.open(out) as hdul:
        assert hdul[0].data.dtype.kind == 'i' and hdul[0].data.dtype.itemsize == 2
        np.testing.assert_array_equal(hdul[0].data, flag)
        out_wcs = WCS(hdul[0].header)
    img_wcs = WCS(fits.getheader(base / 'image-1-0.fits'))
    pix = np.array([[0.0, 0.0], [123.4, 56.7], [399.0, 299.0]])
    np.testing.assert_allclose(out_wcs.all_pix2world(pix, 0), img_wcs.all_pix2world(pix, 0),
                               atol=1e-10)


def test_border_width_and_value_honoured(field):
    base, _ = field
    write_mask_config(base / 'test.mask', base, border_width=23, border_flag=4)
    flag, _, _ = run_mask(base)
    border = (flag & 4) > 0
    assert border[:, 22].all() and border[22, :].all() and border[-23, :].all()
    inner = border[23:-23, 23:-23]
    assert not inner.any()


def test_md_remove_skips_image(field):
    base, _ = field
    text = (base / 'test.mask').read_text()
    text = text.replace('MD_THRESH_REMOVE = 0.75', 'MD_THRESH_REMOVE = 0.0001').replace(
        'MD_REMOVE = False', 'MD_REMOVE = True')
    (base / 'test.mask').write_text(text)
    with pytest.raises(JobSkipped, match='missing'):
        run_mask(base)


def test_offline_query_is_one_clear_error(field):
    base, _ = field
    config = read_mask_config(str(base / 'test.mask'))
    with pytest.raises(ExecutableError) as info:
        build_mask(str(base / 'image-1-0.fits'), str(base / 'weight-1-0.fits'), config)
    message = str(info.value)
    assert '\n' not in message and 'USE_EXT_STAR = True' in message


def test_config_errors(field):
    base, _ = field
    write_mask_config(base / 'test.mask', base, extra='BORDR_WIDTH = 3')
    with pytest.raises(ConfigError, match='did you mean'):
        read_mask_config(str(base / 'test.mask'))
    write_mask_config(base / 'test.mask', base)
    text = (base / 'test.mask').read_text().replace(f'{base}/halo.txt', f'{base}/nothing.txt')
    (base / 'test.mask').write_text(text)
    with pytest.raises(ConfigError, match='HALO_MASKMODEL_PATH'):
        read_mask_config(str(base / 'test.mask'))


def test_shipped_templates_and_catalogues():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    default = os.path.join(repo, 'example', 'GOLD', 'mask_default')
    halo = read_polygon_template(os.path.join(default, 'halo_mask.txt'))
    spike = read_polygon_template(os.path.join(default, 'spike_mask.txt'))
    assert len(halo) == 1 and len(spike) == 3
    from shapepipe.modules.mask_package.deep_sky import read_dso_catalog
    messier = read_dso_catalog(os.path.join(default, 'messier_catalog.ecsv'))
    ngc = read_dso_catalog(os.path.join(default, 'ngc_catalog.ecsv'))
    i31 = messier['name'].index('M31')
    assert messier['coord'][i31].ra.deg == pytest.approx(10.68, abs=0.02)
    assert messier['radius'][i31].value == pytest.approx(190 / 60, rel=1e-6)
    assert len(ngc['name']) >= 30
    os.environ.setdefault('SP_CONFIG', os.path.join(repo, 'example', 'GOLD'))
    for name in ('config.mask', 'config_tile.mask'):
        env = dict(os.environ, SP_CONFIG=os.path.join(repo, 'example', 'GOLD'))
        code = ('import sys; from shapepipe.modules.mask_package.config_file import '
                'read_mask_config; c = read_mask_config(sys.argv[1]); '
                'print(c["BORDER_PARAMETERS"]["BORDER_MAKE"])')
        out = subprocess.run([sys.executable, '-c', code,
                              os.path.join(repo, 'example', 'GOLD', name)],
                             env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == ('True' if name == 'config.mask' else 'False')
