"""The star selection written by SETools is a valid PSFEx input.

A galsim image of Moffat stars and exponential galaxies goes through the real
source-extractor (FITS_LDAC), the GOLD-style selection and the real psfex.
"""

import logging
import shutil
import subprocess

import galsim
import numpy as np
import pytest
from astropy.io import fits

from shapepipe.modules.setools_package.setools import SETools

SEX = shutil.which('source-extractor') or shutil.which('sex')
PSFEX = shutil.which('psfex')
pytestmark = pytest.mark.skipif(not (SEX and PSFEX), reason='source-extractor/psfex missing')

PARAMS = """NUMBER
X_IMAGE
Y_IMAGE
XWIN_IMAGE
YWIN_IMAGE
MAG_AUTO
FWHM_IMAGE
FLAGS
IMAFLAGS_ISO
SNR_WIN
FLUX_RADIUS
FLUX_APER(1)
FLUXERR_APER(1)
ELONGATION
VIGNET(25,25)
"""

SELECTION = """
[MASK:preselect]
MAG_AUTO < 21
FWHM_IMAGE > 1.5
FWHM_IMAGE < 12
FLAGS == 0
IMAFLAGS_ISO == 0
NO_SAVE

[MASK:star_selection]
MAG_AUTO > 15.5
MAG_AUTO < 21
FWHM_IMAGE <= mode(FWHM_IMAGE{preselect}) + 0.3
FWHM_IMAGE >= mode(FWHM_IMAGE{preselect}) - 0.3
FLAGS == 0
IMAFLAGS_ISO == 0
"""


def add_stamp(image, obj, x, y):
    """Draw ``obj`` on its own stamp and add it into the image."""
    stamp = obj.drawImage(nx=41, ny=41, scale=0.187, center=galsim.PositionD(x, y))
    bounds = stamp.bounds & image.bounds
    image[bounds] += stamp[bounds]


def make_image(path, flag_path, rng):
    nx = ny = 800
    image = galsim.ImageF(nx, ny, scale=0.187)
    psf = galsim.Moffat(beta=3.0, fwhm=0.7).shear(g1=0.02, g2=-0.01)
    zero_point = 30.0
    for _ in range(120):
        mag = rng.uniform(17.0, 20.5)
        star = psf.withFlux(10 ** (-0.4 * (mag - zero_point)))
        x, y = rng.uniform(30, nx - 30, 2)
        add_stamp(image, star, x, y)
    for _ in range(150):
        mag = rng.uniform(19.0, 22.0)
        gal = galsim.Exponential(half_light_radius=rng.uniform(0.6, 1.2), flux=10 ** (
            -0.4 * (mag - zero_point))).shear(g1=rng.normal(0, 0.2), g2=rng.normal(0, 0.2))
        obj = galsim.Convolve(gal, psf)
        x, y = rng.uniform(30, nx - 30, 2)
        add_stamp(image, obj, x, y)
    image.addNoise(galsim.GaussianNoise(galsim.BaseDeviate(int(rng.integers(1 << 30))),
                                        sigma=10.0))
    image.write(str(path))
    fits.PrimaryHDU(np.zeros((ny, nx), np.int16)).writeto(flag_path)


def test_star_selection_feeds_psfex(tmp_path):
    rng = np.random.default_rng(11)
    make_image(tmp_path / 'image.fits', tmp_path / 'flag.fits', rng)
    (tmp_path / 'se.param').write_text(PARAMS)
    cat = tmp_path / 'sexcat-1-0.fits'
    subprocess.run([SEX, str(tmp_path / 'image.fits'), '-c', '/usr/share/source-extractor/'
                    'default.sex', '-CATALOG_NAME', str(cat), '-CATALOG_TYPE', 'FITS_LDAC',
                    '-PARAMETERS_NAME', str(tmp_path / 'se.param'), '-FILTER_NAME',
                    '/usr/share/source-extractor/default.conv', '-STARNNW_NAME',
                    '/usr/share/source-extractor/default.nnw', '-FLAG_IMAGE',
                    str(tmp_path / 'flag.fits'), '-MAG_ZEROPOINT', '30', '-PIXEL_SCALE', '0',
                    '-SATUR_LEVEL', '1e9', '-DETECT_THRESH', '3', '-VERBOSE_TYPE', 'QUIET'],
                   check=True, cwd=tmp_path, capture_output=True)
    setools = tmp_path / 'stars.setools'
    setools.write_text(SELECTION)
    tool = SETools(str(cat), str(setools), str(tmp_path / 'out'), '-1-0',
                   log=logging.getLogger('test'))
    tool.process()
    n_sel = int(tool.masks['star_selection'].sum())
    assert n_sel >= 60

    star_cat = tmp_path / 'out' / 'mask' / 'star_selection-1-0.fits'
    result = subprocess.run(
        [PSFEX, str(star_cat), '-c', '/usr/share/psfex/default.psfex', '-PSF_DIR',
         str(tmp_path), '-PSFVAR_KEYS', 'XWIN_IMAGE,YWIN_IMAGE', '-PSFVAR_DEGREES', '1',
         '-CHECKPLOT_TYPE', 'NONE', '-CHECKIMAGE_TYPE', 'NONE', '-WRITE_XML', 'N',
         '-VERBOSE_TYPE', 'QUIET', '-SAMPLE_FWHMRANGE', '1,10'],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    psf = tmp_path / 'star_selection-1-0.psf'
    with fits.open(psf) as hdul:
        header = hdul['PSF_DATA'].header
        assert header['ACCEPTED'] >= 0.8 * n_sel
        assert header['LOADED'] == n_sel
        # the selected objects are stars: PSFEx's model fits them (reduced chi2 ~ 1)
        assert header['CHI2'] < 1.5
