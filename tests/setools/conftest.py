"""A small synthetic SExtractor FITS_LDAC catalogue: a stellar locus and galaxies."""

import numpy as np
import pytest
from astropy.io import fits

N_STARS = 150
N_GALAXIES = 350
STAR_FWHM = 4.0
VIGNET = 7


def ldac_hdus(columns, image_header=None):
    """FITS_LDAC HDUs (primary, LDAC_IMHEAD, LDAC_OBJECTS) from ``{name: array}``."""
    header = image_header or fits.Header({'NAXIS1': 2048, 'NAXIS2': 4612, 'GAIN': 1.5})
    cards = [card.image for card in header.cards] + ['END'.ljust(80)]
    imhead = fits.BinTableHDU.from_columns(
        [fits.Column(name='Field Header Card', format=f'{80 * len(cards)}A',
                     array=np.array([cards], dtype='S80'), dim=f'(80, {len(cards)})')],
        name='LDAC_IMHEAD')
    cols = []
    for name, values in columns.items():
        values = np.asarray(values)
        if values.ndim == 3:
            fmt, dim = f'{values.shape[1] * values.shape[2]}E', f'({values.shape[2]}, {values.shape[1]})'
        else:
            fmt, dim = {'f': 'E', 'i': 'J'}[values.dtype.kind], None
        cols.append(fits.Column(name=name, format=fmt, array=values, dim=dim))
    objects = fits.BinTableHDU.from_columns(cols, name='LDAC_OBJECTS')
    return fits.HDUList([fits.PrimaryHDU(), imhead, objects])


def make_columns(rng, n_stars=N_STARS, n_galaxies=N_GALAXIES):
    """Columns of a catalogue: stars on a tight FWHM locus, galaxies larger."""
    n_obj = n_stars + n_galaxies
    is_star = np.zeros(n_obj, bool)
    is_star[:n_stars] = True
    fwhm = np.where(is_star, rng.normal(STAR_FWHM, 0.03, n_obj), rng.uniform(4.6, 9.0, n_obj))
    mag = np.where(is_star, rng.uniform(16.0, 23.0, n_obj), rng.uniform(18.0, 25.0, n_obj))
    flags = np.zeros(n_obj, dtype=np.int32)
    flags[rng.choice(n_obj, min(25, n_obj // 20), replace=False)] = 2
    imaflags = np.zeros(n_obj, dtype=np.int32)
    imaflags[rng.choice(n_obj, min(15, n_obj // 30), replace=False)] = 4
    return {
        'NUMBER': np.arange(1, n_obj + 1, dtype=np.int32),
        'X_IMAGE': rng.uniform(1, 2048, n_obj).astype(np.float32),
        'Y_IMAGE': rng.uniform(1, 4612, n_obj).astype(np.float32),
        'MAG_AUTO': mag.astype(np.float32),
        'FWHM_IMAGE': fwhm.astype(np.float32),
        'FLAGS': flags,
        'IMAFLAGS_ISO': imaflags,
        'VIGNET': rng.normal(0, 1, (n_obj, VIGNET, VIGNET)).astype(np.float32),
    }


@pytest.fixture
def catalog_path(tmp_path):
    """Path of a synthetic FITS_LDAC catalogue ``sexcat-1234567-8.fits``."""
    columns = make_columns(np.random.default_rng(42))
    path = tmp_path / 'sexcat-1234567-8.fits'
    ldac_hdus(columns).writeto(path)
    return path
