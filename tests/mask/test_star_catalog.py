"""Reader and writer of findgsc2.2 (GSC 2.2) star-catalogue text files."""

import numpy as np
import pytest

from shapepipe.errors import InputError
from shapepipe.io.star_catalog import read_star_catalog, write_star_catalog

# Decorations as findgsc2.2 prints them: '#' before the first name, ';'
# separators, a trailing ',' on a name, '---' for missing values.
GSC_TEXT = """\
#findgsc2.2 -c 255.66 +34.05 -r 12.3
#Center: 255.660000 +34.050000
#
#GSC2.2     ;  RA(J2000), Dec(J2000)  Epoch  Fmag  Jmag  Vmag  Nmag  Clas  ;
N4SD000001  ;  255.6612000 +34.0512000 1995.1 12.10 12.30 ---   12.50  0 ;
N4SD000002  ;  255.7000000 +34.1000000 1995.1 ---   ---   ---   ---    0 ;
N4SD000003  ;  255.6000000 +34.0000000 1995.1 15.00 ---   ---   ---    3 ;
#
#3 records
#
#
#end
"""


def test_read_findgsc_text(tmp_path):
    path = tmp_path / 'star_cat-2113737-10.cat'
    path.write_text(GSC_TEXT)
    table = read_star_catalog(path)
    assert len(table) == 3
    assert list(table['name']) == ['N4SD000001', 'N4SD000002', 'N4SD000003']
    np.testing.assert_allclose(table['ra'], [255.6612, 255.7, 255.6], atol=1e-9)
    np.testing.assert_allclose(table['dec'], [34.0512, 34.1, 34.0], atol=1e-9)
    # mean of the available magnitudes
    assert table['mag'][0] == pytest.approx((12.10 + 12.30 + 12.50) / 3, abs=1e-9)
    assert np.isnan(table['mag'][1])
    assert table['n_mag'][1] == 0
    assert table['mag'][2] == pytest.approx(15.0)
    assert list(table['is_star']) == [True, True, False]
    assert np.isnan(table['Vmag'][0])


def test_write_read_round_trip(tmp_path):
    path = tmp_path / 'star_cat-1.cat'
    ra = np.array([10.1234567, 10.2, 10.3])
    dec = np.array([-5.5, -5.4, -5.3])
    mag = np.array([11.25, np.nan, 17.5])
    write_star_catalog(path, ra, dec, mag, is_star=[True, True, False])
    lines = path.read_text().splitlines()
    assert 'RA(J2000)' in lines[3] and 'Clas' in lines[3]
    assert len(lines) == 4 + 3 + 5
    table = read_star_catalog(path)
    np.testing.assert_allclose(table['ra'], ra, atol=1e-7)
    np.testing.assert_allclose(table['dec'], dec, atol=1e-7)
    np.testing.assert_allclose(table['mag'][[0, 2]], [11.25, 17.5], atol=1e-9)
    assert np.isnan(table['mag'][1])
    assert list(table['is_star']) == [True, True, False]


def test_empty_catalogue(tmp_path):
    path = tmp_path / 'star_cat-2.cat'
    write_star_catalog(path, [], [], [])
    table = read_star_catalog(path)
    assert len(table) == 0
    assert 'mag' in table.colnames


def test_bad_row_names_line(tmp_path):
    path = tmp_path / 'bad.cat'
    text = GSC_TEXT.replace('15.00 ---   ---   ---    3', '15.00 3')
    path.write_text(text)
    with pytest.raises(InputError, match=r'bad.cat:7:'):
        read_star_catalog(path)


def test_not_a_star_catalogue(tmp_path):
    path = tmp_path / 'other.cat'
    path.write_text('a b c\n1 2 3\n')
    with pytest.raises(InputError, match='RA\\(J2000\\)'):
        read_star_catalog(path)
