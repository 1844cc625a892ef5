"""make_cat: one row per detection, ShapePipe's columns, defaults for missing shapes."""

import numpy as np
from astropy.io import fits

from shapepipe.modules.make_cat_package.final_catalog import (
    FLAG_NOT_MEASURED, MCAL_TYPES, make_final_catalog, spread_class,
)

NGMIX_NAMES = ('id n_epoch_model moments_fail ntry_fit g1_psfo_ngmix g2_psfo_ngmix T_psfo_ngmix '
               'g1_err_psfo_ngmix g2_err_psfo_ngmix T_err_psfo_ngmix g1 g1_err g2 g2_err T T_err '
               'Tpsf g1_psf g2_psf flux flux_err s2n mag mag_err flags mcal_flags').split()


def _tile_catalog(path, n):
    columns = [fits.Column('NUMBER', 'J', array=np.arange(1, n + 1)),
               fits.Column('MAG_AUTO', 'E', array=np.linspace(18, 24, n)),
               fits.Column('VIGNET', '4E', dim='(2,2)', array=np.zeros((n, 2, 2)))]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(name='LDAC_IMHEAD'),
                  fits.BinTableHDU.from_columns(columns, name='LDAC_OBJECTS')]).writeto(path)


def test_final_catalog(tmp_path):
    _tile_catalog(tmp_path / 'tile_sexcat-277-282.fits', 4)
    fits.BinTableHDU.from_columns([
        fits.Column('NUMBER', 'J', array=[1, 2, 3, 4]),
        fits.Column('SPREAD_MODEL', 'E', array=[0.0, 0.02, 0.005, -0.5]),
        fits.Column('SPREADERR_MODEL', 'E', array=[0.0005, 0.001, 0.0, 0.0])]).writeto(
        tmp_path / 'sexcat_sm-277-282.fits')
    hdus = [fits.PrimaryHDU()]
    for k, kind in enumerate(MCAL_TYPES):
        values = {name: np.array([2.0, 3.0]) for name in NGMIX_NAMES}
        values['id'] = np.array([2, 3])
        values['g1'] = np.array([0.1 + k, 0.2])
        values['flags'] = np.array([0, 4])
        values['mcal_flags'] = np.array([0, 0])
        values['n_epoch_model'] = np.array([3, 2])
        hdus.append(fits.BinTableHDU.from_columns(
            [fits.Column(n, 'J' if n in ('id', 'flags', 'mcal_flags', 'n_epoch_model',
                                         'moments_fail', 'ntry_fit') else 'D', array=values[n])
             for n in NGMIX_NAMES], name=kind))
    fits.HDUList(hdus).writeto(tmp_path / 'ngmix-277-282.fits')
    out = tmp_path / 'final_cat-277-282.fits'
    assert make_final_catalog(str(out), str(tmp_path / 'tile_sexcat-277-282.fits'), '277.282',
                              str(tmp_path / 'sexcat_sm-277-282.fits'),
                              str(tmp_path / 'ngmix-277-282.fits')) == 4
    with fits.open(out) as hdul:
        data = hdul['RESULTS'].data
    assert 'VIGNET' not in data.columns.names and list(data['NUMBER']) == [1, 2, 3, 4]
    assert set(data['TILE_ID']) == {'277.282'}
    assert list(data['SPREAD_CLASS']) == [0, 1, 2, 2]
    for kind in MCAL_TYPES:
        for name in ('NGMIX_ELL', 'NGMIX_ELL_ERR', 'NGMIX_ELL_PSFo', 'NGMIX_T', 'NGMIX_Tpsf',
                     'NGMIX_SNR', 'NGMIX_FLUX', 'NGMIX_MAG', 'NGMIX_FLAGS', 'NGMIX_T_PSFo',
                     'NGMIX_FLUX_ERR', 'NGMIX_MAG_ERR', 'NGMIX_T_ERR'):
            assert f'{name}_{kind}' in data.columns.names
    assert data['NGMIX_ELL_NOSHEAR'].shape == (4, 2)
    assert data['NGMIX_ELL_NOSHEAR'][1, 0] == 4.1 and data['NGMIX_ELL_1M'][1, 0] == 0.1
    assert (data['NGMIX_ELL_NOSHEAR'][[0, 3]] == -10).all()
    assert list(data['NGMIX_FLAGS_NOSHEAR']) == [FLAG_NOT_MEASURED, 0, 4, FLAG_NOT_MEASURED]
    assert list(data['NGMIX_MCAL_FLAGS']) == [FLAG_NOT_MEASURED, 0, 0, FLAG_NOT_MEASURED]
    assert list(data['NGMIX_N_EPOCH']) == [0, 3, 2, 0]


def test_empty_tile_and_no_shapes(tmp_path):
    _tile_catalog(tmp_path / 'tile_sexcat-1-2.fits', 0)
    out = tmp_path / 'final_cat-1-2.fits'
    assert make_final_catalog(str(out), str(tmp_path / 'tile_sexcat-1-2.fits'), '001.002') == 0
    with fits.open(out) as hdul:
        assert len(hdul['RESULTS'].data) == 0 and 'NGMIX_ELL_NOSHEAR' in hdul['RESULTS'].columns.names
    assert list(spread_class([0.0, 0.05, 0.004], [0.0, 0.0, 0.0], 0.003, 0.01)) == [0, 1, 2]


def test_save_psf_data(tmp_path):
    from shapepipe.io.stores import write_store
    from shapepipe.modules.make_cat_package.final_catalog import PSF_FLAG_NO_EPOCH

    _tile_catalog(tmp_path / 'tile_sexcat-277-282.fits', 3)
    with fits.open(tmp_path / 'tile_sexcat-277-282.fits', mode='append') as hdul:
        for i in (1, 2):
            hdul.append(fits.BinTableHDU.from_columns(
                [fits.Column('NUMBER', 'J', array=[1, 2, 3])], name=f'EPOCH_{i - 1}'))
    store_path = tmp_path / 'galaxy_psf-277-282.sqlite'
    shapes = {'E1_PSF_HSM': 0.01, 'E2_PSF_HSM': -0.02, 'SIGMA_PSF_HSM': 1.5, 'FLAG_PSF_HSM': 0}
    write_store(str(store_path), {
        '1': {'2113737-10': {'SHAPES': shapes}, '2113874-3': {'SHAPES': shapes}},
        '2': {'2113874-3': {'SHAPES': dict(shapes, FLAG_PSF_HSM=1)}},
        '3': 'empty'})
    out = tmp_path / 'final_cat-277-282.fits'
    make_final_catalog(str(out), str(tmp_path / 'tile_sexcat-277-282.fits'), '277.282',
                       psf_store=str(store_path))
    data = fits.getdata(out, 'RESULTS')
    assert np.allclose(data['PSF_ELL_1'][0], [0.01, -0.02])
    assert np.isclose(data['PSF_FWHM_2'][0], 1.5 * 2.3548, rtol=1e-4)
    assert list(data['PSF_FLAG_1']) == [0, 1, PSF_FLAG_NO_EPOCH]
    assert list(data['PSF_FLAG_2']) == [0, PSF_FLAG_NO_EPOCH, PSF_FLAG_NO_EPOCH]
    assert (data['PSF_ELL_2'][1:] == -10).all()


def test_tile_without_detections_gives_an_empty_valid_catalogue(tmp_path):
    from shapepipe.modules.ngmix_package.catalog import empty_tables, write_ngmix_catalog

    _tile_catalog(tmp_path / 'tile_sexcat-277-282.fits', 0)
    write_ngmix_catalog(str(tmp_path / 'ngmix-277-282.fits'), empty_tables())
    out = tmp_path / 'final_cat-277-282.fits'
    assert make_final_catalog(str(out), str(tmp_path / 'tile_sexcat-277-282.fits'), '277.282',
                              ngmix_path=str(tmp_path / 'ngmix-277-282.fits')) == 0
    data = fits.getdata(out, 'RESULTS')
    assert len(data) == 0 and 'NGMIX_ELL_NOSHEAR' in data.columns.names


def test_corrupt_psf_store_is_a_one_line_error(tmp_path):
    import pytest

    from shapepipe.errors import InputError

    _tile_catalog(tmp_path / 'tile_sexcat-277-282.fits', 2)
    bad = tmp_path / 'galaxy_psf-277-282.sqlite'
    bad.write_bytes(b'garbage' * 200)
    with pytest.raises(InputError, match='galaxy_psf-277-282.sqlite: cannot open the PSF store'):
        make_final_catalog(str(tmp_path / 'final.fits'), str(tmp_path / 'tile_sexcat-277-282.fits'),
                           '277.282', psf_store=str(bad))
    assert not (tmp_path / 'final.fits').exists()
