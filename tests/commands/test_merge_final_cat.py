"""merge_final_cat: good catalogues merged, bad ones reported and skipped, column subsets."""

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.commands.merge_final_cat import main


def write_final(path, n, tile, extra=True):
    columns = [fits.Column('NUMBER', 'J', array=np.arange(1, n + 1)),
               fits.Column('TILE_ID', '7A', array=np.full(n, tile)),
               fits.Column('NGMIX_ELL_NOSHEAR', '2D', array=np.full((n, 2), float(n))),
               fits.Column('MAG_AUTO', 'E', unit='mag', array=np.linspace(18, 24, n))]
    if extra:
        columns.append(fits.Column('FLAG_L', 'L', array=np.arange(n) % 2 == 0))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns, name='RESULTS')]
                 ).writeto(path)


@pytest.fixture
def tiles(tmp_path):
    """Two good catalogues (5 and 7 rows) and a truncated one, named final_cat*.fits."""
    write_final(tmp_path / 'final_cat-277-282.fits', 5, '277.282')
    write_final(tmp_path / 'final_cat-277-283.fits', 7, '277.283')
    write_final(tmp_path / 'big.fits', 400, '277.284')
    data = (tmp_path / 'big.fits').read_bytes()
    (tmp_path / 'final_cat-277-284.fits').write_bytes(data[:len(data) - 3000])
    (tmp_path / 'big.fits').unlink()
    return tmp_path


def test_merge_skips_corrupt(tiles, capsys):
    assert main(['-i', str(tiles)]) == 1
    captured = capsys.readouterr()
    skipped = captured.err.strip().splitlines()
    assert len(skipped) == 1 and 'final_cat-277-284.fits' in skipped[0]
    assert '12 rows from 2 catalogue(s)' in captured.out
    with fits.open(tiles / 'merged_final_cat.fits') as hdul:
        data = hdul['RESULTS'].data
        assert hdul['RESULTS'].header['NMERGED'] == 2
        assert hdul['RESULTS'].columns['MAG_AUTO'].unit == 'mag'
        assert len(data) == 12
        assert list(data['TILE_ID']) == ['277.282'] * 5 + ['277.283'] * 7
        np.testing.assert_array_equal(data['NGMIX_ELL_NOSHEAR'][:, 0], [5] * 5 + [7] * 7)
        np.testing.assert_array_equal(data['FLAG_L'][:3], [True, False, True])
    # A second run does not pick up its own output; no temporary file is left.
    assert main(['-i', str(tiles)]) == 1
    assert '12 rows' in capsys.readouterr().out
    assert sorted(p.name for p in tiles.iterdir() if not p.name.startswith('final_cat')) == [
        'merged_final_cat.fits']


def test_column_subset_list_and_n_max(tiles, tmp_path, capsys):
    params = tmp_path / 'columns.txt'
    params.write_text('# wanted columns\nTILE_ID\n\nNGMIX_ELL_NOSHEAR\n')
    listing = tmp_path / 'inputs.txt'
    listing.write_text('final_cat-277-283.fits\nfinal_cat-277-282.fits\nfinal_cat-absent.fits\n')
    out = tmp_path / 'sub' / 'shapes.fits'
    assert main(['-i', str(tiles), '-l', str(listing), '-p', str(params), '-o', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'final_cat-absent.fits: no such file' in err
    data = fits.getdata(out, 'RESULTS')
    assert data.columns.names == ['TILE_ID', 'NGMIX_ELL_NOSHEAR']
    assert list(data['TILE_ID']) == ['277.283'] * 7 + ['277.282'] * 5

    assert main(['-i', str(tiles), '-n', '1', '-o', str(tmp_path / 'one.fits'), '-v']) == 0
    assert len(fits.getdata(tmp_path / 'one.fits', 'RESULTS')) == 5


def test_missing_column_skips_file(tmp_path, capsys):
    write_final(tmp_path / 'final_cat-1.fits', 4, '1.1')
    write_final(tmp_path / 'final_cat-2.fits', 3, '1.2', extra=False)
    assert main(['-i', str(tmp_path)]) == 1          # all columns of the first: FLAG_L
    assert 'final_cat-2.fits: lacks column(s) FLAG_L' in capsys.readouterr().err
    params = tmp_path / 'p.txt'
    params.write_text('NUMBER\nMAG_AUTO\n')
    assert main(['-i', str(tmp_path), '-p', str(params), '-o', str(tmp_path / 'm.fits')]) == 0
    assert len(fits.getdata(tmp_path / 'm.fits', 'RESULTS')) == 7


def test_usage_errors(tmp_path, capsys):
    assert main(['-i', str(tmp_path / 'absent')]) == 2
    assert 'no such input directory' in capsys.readouterr().err
    assert main(['-i', str(tmp_path), '-p', str(tmp_path / 'none.txt')]) == 2
    assert main(['-i', str(tmp_path)]) == 1           # nothing to merge
    assert 'no final_cat*.fits file' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(['-n', '0'])
    assert exit_info.value.code == 2
    assert 'at least 1' in capsys.readouterr().err
    (tmp_path / 'final_cat-x.fits').write_text('not a FITS file')
    assert main(['-i', str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and 'cannot read' in err[0] and 'no catalogue could be merged' in err[1]
    assert not (tmp_path / 'merged_final_cat.fits').exists()


def test_numpy_output(tmp_path):
    write_final(tmp_path / 'final_cat-277-282.fits', 5, '277.282')
    write_final(tmp_path / 'final_cat-277-283.fits', 7, '277.283')
    out = tmp_path / 'merged.npy'
    assert main(['-i', str(tmp_path), '-o', str(out)]) == 0
    table = np.load(out)
    assert len(table) == 12 and table['NGMIX_ELL_NOSHEAR'].shape == (12, 2)
    assert list(table['NUMBER'][:6]) == [1, 2, 3, 4, 5, 1]
    assert table['TILE_ID'][-1].strip() in (b'277.283', '277.283')
