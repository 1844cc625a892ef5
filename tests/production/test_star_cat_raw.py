"""create_star_cat on raw CFIS files: exposure mosaics (as job_sp and the
tutorial call it on input_exposures) and tiles, before any pipeline run."""

import numpy as np
from astropy.io import fits

from shapepipe.commands.create_star_cat import find_images, main
from shapepipe.io.star_catalog import read_star_catalog
from shapepipe.simulation.focal_plane import ccd_header


def _stars(tmp_path):
    rng = np.random.default_rng(4)
    columns = [fits.Column('RA', 'D', array=220.0 + rng.uniform(-0.4, 0.4, 2000)),
               fits.Column('DEC', 'D', array=51.0 + rng.uniform(-0.4, 0.4, 2000)),
               fits.Column('MAG', 'E', array=rng.uniform(12, 24, 2000))]
    path = tmp_path / 'stars.fits'
    fits.BinTableHDU.from_columns(columns).writeto(path)
    return path


def test_raw_mosaics_give_the_catalogues_of_the_split_files(tmp_path, capsys):
    raw, split = tmp_path / 'input_exposures', tmp_path / 'split'
    raw.mkdir()
    split.mkdir()
    hdus = [fits.PrimaryHDU()]
    for ccd in (12, 13):
        header = ccd_header(ccd, 220.0, 51.0)
        data = np.zeros((4644, 2112), np.float32)
        hdus.append(fits.CompImageHDU(data, header=header, name=f'ccd{ccd}'))
        fits.PrimaryHDU(data, header=header).writeto(split / f'image-2113737-{ccd}.fits')
    fits.HDUList(hdus).writeto(raw / '2113737p.fits.fz')
    fits.HDUList([fits.PrimaryHDU()]).writeto(raw / '2113737p.weight.fits.fz')   # not an image
    assert [n for n, _, _ in find_images(str(raw))] == ['-2113737-12', '-2113737-13']
    stars = _stars(tmp_path)
    assert main([str(raw), str(tmp_path / 'from_raw'), 'exp', '--from', str(stars)]) == 0
    assert main([str(split), str(tmp_path / 'from_split'), '--from', str(stars)]) == 0
    for ccd in (12, 13):
        a = read_star_catalog(tmp_path / 'from_raw' / f'star_cat-2113737-{ccd}.cat')
        b = read_star_catalog(tmp_path / 'from_split' / f'star_cat-2113737-{ccd}.cat')
        assert len(a) > 5 and len(a) == len(b)
        np.testing.assert_allclose(a['ra'], b['ra'], atol=1e-9)


def test_raw_tile_and_one_line_error(tmp_path, capsys):
    tiles = tmp_path / 'input_tiles'
    tiles.mkdir()
    header = ccd_header(13, 220.0, 51.0)
    fits.PrimaryHDU(np.zeros((4644, 2112), np.float32),
                    header=header).writeto(tiles / 'CFIS.277.282.r.fits')
    stars = _stars(tmp_path)
    assert main([str(tiles), str(tmp_path / 'cats'), '--from', str(stars)]) == 0   # tile mode
    assert len(read_star_catalog(tmp_path / 'cats' / 'star_cat-277-282.cat')) > 5
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert main([str(empty), str(tmp_path / 'none'), 'exp', '--from', str(stars)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and '<exp>p.fits.fz' in err


def test_sp_star_cat_stands_for_from(tmp_path, monkeypatch):
    """ShapePipe's job_sp.bash calls create_star_cat without --from: offline, $SP_STAR_CAT."""
    tiles = tmp_path / 'input_tiles'
    tiles.mkdir()
    fits.PrimaryHDU(np.zeros((4644, 2112), np.float32),
                    header=ccd_header(13, 220.0, 51.0)).writeto(tiles / 'CFIS.277.282.r.fits')
    stars = _stars(tmp_path)
    assert main([str(tiles), str(tmp_path / 'given'), '--from', str(stars)]) == 0
    monkeypatch.setenv('SP_STAR_CAT', str(stars))
    assert main([str(tiles), str(tmp_path / 'env')]) == 0
    given = read_star_catalog(tmp_path / 'given' / 'star_cat-277-282.cat')
    from_env = read_star_catalog(tmp_path / 'env' / 'star_cat-277-282.cat')
    assert len(given) > 5 and len(from_env) == len(given)
    np.testing.assert_allclose(from_env['ra'], given['ra'], atol=1e-9)
