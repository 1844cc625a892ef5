"""cfis_field_select modes."""

import numpy as np
from astropy.io import fits

from shapepipe import cfis
from shapepipe.commands.cfis_field_select import main


def test_coord_number_area(tmp_path, capsys):
    listing = tmp_path / 'tiles.txt'
    listing.write_text('CFIS.277.282.r.fits\nCFIS.277.282.r.weight.fits.fz\nCFIS.424.248.r.fits\n'
                       '-rw-r--r-- 1 u g 10 Jan 1 CFIS.100.200.r.fits\n')
    assert cfis.tile_id_from_coord(255.66, 34.05) == '424.248'
    out = tmp_path / 'tile_numbers'
    assert main(['-i', str(listing), '--coord', '255.66deg_34.05deg', '-t', 'tile',
                 '--out_name_only', '--out_number_only', '-s', '-o', str(out)]) == 0
    assert (tmp_path / 'tile_numbers.txt').read_text() == '424.248\n'
    capsys.readouterr()
    assert main(['-i', str(listing), '--number', '277.282,999.999', '-t', 'weight.fz',
                 '--out_name_only']) == 0
    assert capsys.readouterr().out.split() == ['CFIS.277.282.r.weight.fits.fz']
    ra, dec = cfis.tile_coord_from_id('277.282')
    assert main(['-i', str(listing), '--area', f'{ra - 0.1}_{dec - 0.1}_{ra + 0.1}_{dec + 0.1}',
                 '--out_number_only']) == 0
    assert capsys.readouterr().out.split() == ['277.282']
    assert main(['-i', str(listing), '--coord', '10deg_10deg']) == 1   # no tile there


def test_exposures_from_tile_headers(tmp_path, capsys):
    header = fits.Header()
    for name in ('2113737p.fits', '2113874p.fits'):
        header.add_history(f' {name}')
    fits.PrimaryHDU(np.zeros((2, 2)), header=header).writeto(tmp_path / 'CFIS.277.282.r.fits')
    assert main(['-i', str(tmp_path), '--tile', '-t', 'exposure_flag.fz', '--out_name_only']) == 0
    assert capsys.readouterr().out.split() == ['2113737p.flag.fits.fz', '2113874p.flag.fits.fz']
    assert main(['-i', str(tmp_path / 'missing.txt'), '--number', '1']) == 2
    assert 'no such list file' in capsys.readouterr().err
