"""Input preparation: CFIS renaming, HISTORY parsing, uncompression."""

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.errors import ConfigError, InputError
from shapepipe.modules.find_exposures_package.find_exposures import exposures_from_header
from shapepipe.modules.get_images_package.get_images import link, output_name, plan, raw_name
from shapepipe.modules.uncompress_fits_package.uncompress import uncompress


def test_cfis_names():
    assert raw_name('CFIS.000.000.r', r'\d{3}\.\d{3}', '277.282', '.fits') == 'CFIS.277.282.r.fits'
    assert raw_name('0000000p.weight', r'\d{7}p', '2113737p', '.fits.fz') == '2113737p.weight.fits.fz'
    assert output_name('CFIS_weight-', '277.282', '.fits.fz') == 'CFIS_weight-277-282.fitsfz'
    assert output_name('image-', '2490092p', '.fits.fz') == 'image-2490092.fitsfz'
    with pytest.raises(ConfigError, match='does not match'):
        raw_name('CFIS.r', r'\d{3}\.\d{3}', '277.282', '.fits')
    with pytest.raises(ConfigError, match='same number of entries'):
        plan(['1'], ['a', 'b'], ['p'], ['.fits'], ['o-'], r'\d', '/tmp')


def test_symlinks(tmp_path):
    (tmp_path / 'raw').mkdir()
    (tmp_path / 'raw' / 'CFIS.277.282.r.fits').write_text('x')
    pairs = plan(['277.282'], [str(tmp_path / 'raw')], ['CFIS.000.000.r'], ['.fits'],
                 ['CFIS_image-'], r'\d{3}\.\d{3}', str(tmp_path))
    for source, destination in pairs:
        link(source, destination)
    assert (tmp_path / 'CFIS_image-277-282.fits').read_text() == 'x'
    with pytest.raises(InputError, match='not found'):
        link(str(tmp_path / 'raw' / 'missing.fits'), str(tmp_path / 'x.fits'))


def test_history_and_uncompress(tmp_path):
    header = fits.Header()
    header.add_history(' 2113737p.fits 1 2 3')
    header.add_history('Stacked with SWarp, input 2113874p.fits')
    header.add_history(' 2113737p.fits')
    fits.PrimaryHDU(np.zeros((4, 4)), header=header).writeto(tmp_path / 'tile.fits')
    assert exposures_from_header(str(tmp_path / 'tile.fits')) == ['2113737p', '2113874p']
    data = np.arange(64, dtype=np.float32).reshape(8, 8)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, compression_type='RICE_1',
                                                       quantize_level=0)]).writeto(tmp_path / 'w.fitsfz')
    uncompress(str(tmp_path / 'w.fitsfz'), str(tmp_path / 'w.fits'), 1)
    with fits.open(tmp_path / 'w.fits') as hdul:
        assert len(hdul) == 1 and np.allclose(hdul[0].data, data)
    with pytest.raises(InputError, match='HDU_DATA = 3 does not exist'):
        uncompress(str(tmp_path / 'w.fitsfz'), str(tmp_path / 'x.fits'), 3)
