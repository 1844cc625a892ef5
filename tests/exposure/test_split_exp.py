"""split_exp: TPV -> SIP, CCD files, and bad mosaics."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.errors import InputError
from shapepipe.modules.split_exp_package.split_exp import split_mosaic
from shapepipe.modules.split_exp_package.tpv_to_sip import tpv_to_sip
from shapepipe.simulation.focal_plane import ccd_header


@pytest.mark.parametrize('ccd', [0, 13, 37])
def test_sip_reproduces_tpv(ccd):
    header = ccd_header(ccd, 220.0, 51.0, distortion=2e-3)
    sip = tpv_to_sip(header, (4644, 2112))
    assert sip['CTYPE1'] == 'RA---TAN-SIP' and 'PV1_7' not in sip
    x, y = np.meshgrid(np.linspace(1, 2112, 9), np.linspace(1, 4644, 11))
    ra, dec = WCS(header).all_pix2world(x.ravel(), y.ravel(), 1)
    ra2, dec2 = WCS(sip).all_pix2world(x.ravel(), y.ravel(), 1)
    error_pix = np.hypot((ra2 - ra) * np.cos(np.radians(dec)), dec2 - dec) * 3600 / 0.187
    assert error_pix.max() < 1e-4
    xb, yb = WCS(sip).all_world2pix(ra, dec, 1)
    assert np.abs(xb - x.ravel()).max() < 1e-4 and np.abs(yb - y.ravel()).max() < 1e-4


def _mosaic(path, n_ccd, corrupt=False):
    hdus = [fits.PrimaryHDU()]
    for ccd in range(n_ccd):
        header = ccd_header(ccd, 220.0, 51.0)
        hdus.append(fits.CompImageHDU(np.full((64, 32), ccd, np.float32), header=header))
    fits.HDUList(hdus).writeto(path)
    if corrupt:
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])


def test_split_names_and_dtypes(tmp_path):
    _mosaic(tmp_path / 'flag-1234567.fitsfz', 3)
    headers = []
    written = split_mosaic(str(tmp_path / 'flag-1234567.fitsfz'), str(tmp_path), 'flag',
                           '-1234567', 3, dtype=np.int16, header_list=headers)
    assert [p.split('/')[-1] for p in written] == [f'flag-1234567-{c}.fits' for c in range(3)]
    data = fits.getdata(tmp_path / 'flag-1234567-2.fits')
    assert data.dtype.kind == 'i' and data.dtype.itemsize == 2 and (data == 2).all()
    assert [h['ccd'] for h in headers] == [0, 1, 2]


def test_too_few_hdus_and_corrupt_files(tmp_path):
    _mosaic(tmp_path / 'image-1234567.fitsfz', 2)
    with pytest.raises(InputError, match='has 2 CCD HDUs but N_HDU = 40'):
        split_mosaic(str(tmp_path / 'image-1234567.fitsfz'), str(tmp_path), 'image', '-1234567', 40)
    _mosaic(tmp_path / 'image-7654321.fitsfz', 4, corrupt=True)
    with pytest.raises(InputError, match='image-7654321.fitsfz'):
        split_mosaic(str(tmp_path / 'image-7654321.fitsfz'), str(tmp_path), 'image', '-7654321', 4)
