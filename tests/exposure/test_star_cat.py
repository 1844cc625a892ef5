"""create_star_cat: per-image catalogues from a local catalogue; offline error."""

import numpy as np
from astropy.io import fits

from shapepipe.commands.create_star_cat import main
from shapepipe.io.star_catalog import read_star_catalog
from shapepipe.simulation.focal_plane import ccd_header


def test_star_catalogues_per_image(tmp_path, capsys):
    images = tmp_path / 'split'
    images.mkdir()
    for ccd in (12, 13):
        header = ccd_header(ccd, 220.0, 51.0)
        fits.PrimaryHDU(np.zeros((4644, 2112), np.float32), header=header).writeto(
            images / f'image-2113737-{ccd}.fits')
    rng = np.random.default_rng(2)
    ra = 220.0 + rng.uniform(-0.4, 0.4, 3000)
    dec = 51.0 + rng.uniform(-0.4, 0.4, 3000)
    mag = rng.uniform(12, 24, 3000)
    catalog = tmp_path / 'stars.fits'
    fits.BinTableHDU.from_columns([fits.Column('RA', 'D', array=ra), fits.Column('DEC', 'D', array=dec),
                                   fits.Column('MAG', 'E', array=mag)]).writeto(catalog)
    out = tmp_path / 'cats'
    assert main([str(images), str(out), 'exp', '--from', str(catalog)]) == 0
    for ccd in (12, 13):
        table = read_star_catalog(out / f'star_cat-2113737-{ccd}.cat')
        assert len(table) > 10 and (table['mag'] <= 18.0).all()
        # Every listed star is within the circle around the CCD (half-diagonal + 0.02 deg),
        # and every bright catalogue star on the CCD is listed.
        from astropy.coordinates import SkyCoord
        from astropy.wcs import WCS
        wcs = WCS(ccd_header(ccd, 220.0, 51.0))
        c = wcs.all_pix2world([[1056.5, 2322.5]], 1)[0]
        centre = SkyCoord(c[0], c[1], unit='deg')
        corners = wcs.all_pix2world([[1, 1], [2112, 1], [1, 4644], [2112, 4644]], 1)
        radius = SkyCoord(corners[:, 0], corners[:, 1], unit='deg').separation(centre).deg.max()
        listed = SkyCoord(table['ra'], table['dec'], unit='deg').separation(centre).deg
        assert (listed < radius + 0.0201).all()
        x, y = wcs.all_world2pix(ra, dec, 1)
        on_ccd = (x > 1) & (x < 2112) & (y > 1) & (y < 4644) & (mag < 17.99)
        assert on_ccd.sum() <= len(table) and on_ccd.sum() > 5
    assert main([str(images), str(tmp_path / 'none'), 'exp']) == 2
    assert 'give a local catalogue with --from' in capsys.readouterr().err
