"""SETools on a synthetic FITS_LDAC catalogue: masks, plots, stats, splits, new
catalogues, degenerate input and .setools syntax errors."""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.errors import ConfigError
from shapepipe.modules.setools_package import statistics
from shapepipe.modules.setools_package.setools import SETools
from shapepipe.modules.setools_package.setools_file import read_setools
from tests.conftest import REPO
from tests.setools.conftest import ldac_hdus, make_columns

GOLD_SETOOLS = os.path.join(REPO, 'example', 'GOLD', 'star_selection.setools')
NUM = '-1234567-8'


def run(catalog_path, setools_text_or_path, out, seed=0, tmp=None):
    if os.path.isfile(str(setools_text_or_path)):
        path = str(setools_text_or_path)
    else:
        path = str(out) + '.setools'
        with open(path, 'w') as handle:
            handle.write(setools_text_or_path)
    tool = SETools(str(catalog_path), path, str(out), NUM, rng=np.random.default_rng(seed),
                   log=logging.getLogger('test_setools'))
    tool.process()
    return tool


def raw_data(path, hdu):
    """The bytes of an HDU's data as stored in the file."""
    info = hdu.fileinfo()
    with open(path, 'rb') as handle:
        handle.seek(info['datLoc'])
        return handle.read(hdu.header['NAXIS1'] * hdu.header['NAXIS2'])


def expected_star_selection(cat):
    fwhm, mag = cat['FWHM_IMAGE'].astype(float), cat['MAG_AUTO'].astype(float)
    clean = (cat['FLAGS'] == 0) & (cat['IMAFLAGS_ISO'] == 0)
    pre = (mag > 0) & (mag < 21) & (fwhm > 0.3 / 0.186) & (fwhm < 1.5 / 0.186) & clean
    mode = statistics.mode(fwhm[pre], print)
    sel = (mag > 17) & (mag < 22) & (fwhm <= mode + 0.2) & (fwhm >= mode - 0.2) & clean
    return sel, mode


def test_gold_star_selection(catalog_path, tmp_path):
    out = tmp_path / 'out'
    tool = run(catalog_path, GOLD_SETOOLS, out)
    cat = fits.getdata(catalog_path, 'LDAC_OBJECTS')
    expected, mode = expected_star_selection(cat)
    assert mode == pytest.approx(4.0, abs=0.03)
    np.testing.assert_array_equal(tool.masks['star_selection'], expected)
    # stars of the synthetic catalogue: the selection is pure and complete
    is_star = np.arange(len(cat)) < 150
    good = (cat['FLAGS'] == 0) & (cat['IMAFLAGS_ISO'] == 0) & (cat['MAG_AUTO'] > 17) & (
        cat['MAG_AUTO'] < 22)
    assert np.all(is_star[expected])
    assert expected.sum() == np.sum(is_star & good)

    # FITS_LDAC layout kept: HDU1 LDAC_IMHEAD copied, HDU2 LDAC_OBJECTS filtered
    path = out / 'mask' / f'star_selection{NUM}.fits'
    with fits.open(path) as hdul, fits.open(catalog_path) as orig:
        assert [h.name for h in hdul] == ['PRIMARY', 'LDAC_IMHEAD', 'LDAC_OBJECTS']
        assert raw_data(path, hdul[1]) == raw_data(catalog_path, orig[1])
        objects = hdul[2].data
        np.testing.assert_array_equal(objects['NUMBER'], cat['NUMBER'][expected])
        assert objects['VIGNET'].shape == (expected.sum(), 7, 7)
        np.testing.assert_array_equal(objects['VIGNET'], cat['VIGNET'][expected])
    # NO_SAVE masks are not written
    assert sorted(os.listdir(out / 'mask')) == [f'star_selection{NUM}.fits']

    # random split: 20% / 80% of the stars, disjoint, together the selection
    part20 = fits.getdata(out / 'rand_split' / f'star_split_ratio_20{NUM}.fits', 2)
    part80 = fits.getdata(out / 'rand_split' / f'star_split_ratio_80{NUM}.fits', 2)
    n_sel = int(expected.sum())
    assert len(part20) == int(np.ceil(0.2 * n_sel)) and len(part80) == n_sel - len(part20)
    assert set(part20['NUMBER']).isdisjoint(part80['NUMBER'])
    assert set(part20['NUMBER']) | set(part80['NUMBER']) == set(cat['NUMBER'][expected])

    # statistics file
    lines = (out / 'stat' / f'star_stat{NUM}.txt').read_text().splitlines()
    assert lines[0] == '# Statistics'
    stats = dict(line.split(' = ') for line in lines[1:])
    assert int(stats['Nb objects full cat']) == len(cat)
    assert int(stats['Nb stars']) == n_sel
    fwhm_sel = cat['FWHM_IMAGE'][expected].astype(float)
    assert float(stats['Mean star fwhm selected (arcsec)']) == pytest.approx(
        fwhm_sel.mean() * 0.186, rel=1e-12)
    assert float(stats['Mode fwhm used (arcsec)']) == pytest.approx(mode * 0.186, rel=1e-12)
    assert float(stats['Max fwhm cut (arcsec)']) == pytest.approx((mode + 0.2) * 0.186,
                                                                   rel=1e-12)

    # plots: PNG files
    for name in ('size_mag', 'hist_mag_stars', 'fwhm_field', 'mag_star_field'):
        with open(out / 'plot' / f'{name}{NUM}.png', 'rb') as handle:
            assert handle.read(8) == b'\x89PNG\r\n\x1a\n'


def test_rand_split_seeded(catalog_path, tmp_path):
    text = '[MASK:all]\nMAG_AUTO > 0\nNO_SAVE\n[RAND_SPLIT:s]\nRATIO = 0.3\nMASK = all\n'
    picks = []
    for seed, name in ((1, 'a'), (1, 'b'), (2, 'c')):
        run(catalog_path, text, tmp_path / name, seed=seed)
        picks.append(fits.getdata(tmp_path / name / 'rand_split' / f's_ratio_30{NUM}.fits',
                                  2)['NUMBER'])
    np.testing.assert_array_equal(picks[0], picks[1])
    assert not np.array_equal(picks[0], picks[2])
    assert len(picks[0]) == int(np.ceil(0.3 * 500))


def test_prefilter_new_cat_and_labels(catalog_path, tmp_path):
    text = """
# comment line
[MASK:bright]
MAG_AUTO < 19   # trailing comment
[MASK:bright_small]
{bright}
FWHM_IMAGE < 5
[NEW_CAT:summary]
OUTPUT_FORMAT = fits
NUMBER = NUMBER{bright_small}
SIZE_ARCSEC = FWHM_IMAGE{bright_small} * 0.186
N_BRIGHT = len(MAG_AUTO{bright})
[NEW_CAT:text]
OUTPUT_FORMAT = txt
MAG = MAG_AUTO{bright_small}
[PLOT:h]
TYPE = hist
Y = MAG_AUTO{bright}
BIN = 5
LOG = True
TITLE = "n = @len(MAG_AUTO{bright})@, mode @mode(FWHM_IMAGE)@"
[STAT:s]
"with = sign" = mean(MAG_AUTO{bright}) - 1
plain label = 1 / 0
"""
    tool = run(catalog_path, text, tmp_path / 'o')
    cat = fits.getdata(catalog_path, 2)
    bright = cat['MAG_AUTO'] < 19
    both = bright & (cat['FWHM_IMAGE'] < 5)
    np.testing.assert_array_equal(tool.masks['bright_small'], both)
    new = fits.getdata(tmp_path / 'o' / 'new_cat' / f'summary{NUM}.fits', 1)
    np.testing.assert_array_equal(new['NUMBER'], cat['NUMBER'][both])
    np.testing.assert_allclose(new['SIZE_ARCSEC'], cat['FWHM_IMAGE'][both] * 0.186, rtol=1e-6)
    assert (new['N_BRIGHT'] == bright.sum()).all()
    txt = (tmp_path / 'o' / 'new_cat' / f'text{NUM}.txt').read_text().splitlines()
    assert txt[:2] == ['# HEADER', '# MAG'] and len(txt) == 2 + both.sum()
    assert tool.stats['s']['with = sign'] == pytest.approx(
        cat['MAG_AUTO'][bright].astype(float).mean() - 1)
    assert np.isinf(tool.stats['s']['plain label'])
    from shapepipe.modules.setools_package.plots import render_text
    title = tool.setools.of_kind('PLOT')[0].options['TITLE']['0'][1]
    mode = statistics.mode(cat['FWHM_IMAGE'].astype(float), print)
    assert abs(mode - 4.0) < 0.03
    assert render_text(title, tool._context()) == f'n = {bright.sum()}, mode {mode:.5g}'


@pytest.mark.parametrize('n_obj', [0, 1])
def test_degenerate_catalogues(tmp_path, n_obj, caplog):
    columns = make_columns(np.random.default_rng(5), n_stars=n_obj, n_galaxies=0)
    path = tmp_path / 'sexcat-1234567-8.fits'
    ldac_hdus(columns).writeto(path)
    with caplog.at_level(logging.WARNING):
        tool = run(path, GOLD_SETOOLS, tmp_path / 'out')
    stats = tool.stats['star_stat']
    assert stats['Nb objects full cat'] == n_obj
    assert stats['Nb stars'] == 0 or n_obj == 1
    assert stats['Mode fwhm used (arcsec)'] == pytest.approx(-0.186) or n_obj == 1
    with fits.open(tmp_path / 'out' / 'mask' / f'star_selection{NUM}.fits') as hdul:
        assert hdul[2].name == 'LDAC_OBJECTS' and len(hdul[2].data) <= n_obj
    for name in ('size_mag', 'hist_mag_stars', 'fwhm_field', 'mag_star_field'):
        assert (tmp_path / 'out' / 'plot' / f'{name}{NUM}.png').is_file()
    messages = ' '.join(r.message for r in caplog.records)
    assert 'empty' in messages and 'homogen is nan' in messages
    if n_obj == 0:
        assert 'no object selected' in messages and 'mode is -1' in messages


def test_nan_values_are_robust(tmp_path, caplog):
    columns = make_columns(np.random.default_rng(6))
    columns['FWHM_IMAGE'][::7] = np.nan
    columns['MAG_AUTO'][::11] = np.inf
    path = tmp_path / 'sexcat-1234567-8.fits'
    ldac_hdus(columns).writeto(path)
    with caplog.at_level(logging.WARNING):
        tool = run(path, GOLD_SETOOLS, tmp_path / 'out')
    sel = tool.masks['star_selection']
    assert sel.sum() > 50
    assert np.isfinite(columns['FWHM_IMAGE'][sel]).all()
    text = ('[STAT:s]\n"m" = mean(FWHM_IMAGE)\n"mo" = mode(FWHM_IMAGE)\n'
            '[PLOT:p]\nTYPE = plot\nX = FWHM_IMAGE\nY = MAG_AUTO\n')
    with caplog.at_level(logging.WARNING):
        tool = run(path, text, tmp_path / 'out2')
    fwhm = columns['FWHM_IMAGE'].astype(float)
    assert tool.stats['s']['m'] == pytest.approx(np.nanmean(fwhm), rel=1e-12)
    assert abs(tool.stats['s']['mo'] - 4.0) < 0.05
    assert any('non-finite' in r.message for r in caplog.records)
    assert (tmp_path / 'out2' / 'plot' / f'p{NUM}.png').is_file()


@pytest.mark.parametrize('text, lineno, message', [
    ('[MASK:a]\nMAG_AUTO > \n', 2, 'unexpected end'),
    ('MAG_AUTO > 1\n', 1, 'outside a section'),
    ('[MASK:a]\nMAG_AUTO > 1\n[FOO:b]\n', 3, 'unknown section type'),
    ('[MASK:a]\n{b}\n[MASK:b]\nMAG_AUTO > 1\n', 2, 'defined after'),
    ('[MASK:a]\nMAG_AUTO > mode(FWHM_IMAGE{star})\n', 2, 'unknown mask'),
    ('[PLOT:p]\nTYPE = plot\nX = MAG_AUTO\nYY = 3\n', 4, 'unknown PLOT key'),
    ('[PLOT:p]\nTYPE = pie\n', 2, 'TYPE must be'),
    ('[STAT:s]\n"n" = len(MAG_AUTO\n', 2, 'expected'),
    ('[RAND_SPLIT:r]\nRATIO = abc\n', 2, 'RATIO must be a number'),
    ('[MASK:a]\nMAG_AUTO > 1 > 2\n', 2, 'only one comparison'),
    ('[MASK:a]\nMAG_AUTO >> 1\n', 2, 'unexpected'),
    ('[MASK:a\n', 1, 'bad section header'),
])
def test_syntax_errors_name_file_line_and_text(tmp_path, text, lineno, message):
    path = tmp_path / 'bad.setools'
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_setools(str(path))
    error = str(info.value)
    assert f'{path}:{lineno}:' in error and message in error
    assert repr(text.splitlines()[lineno - 1].strip()) in error
    assert '\n' not in error


def test_unknown_column_is_a_config_error(catalog_path, tmp_path):
    with pytest.raises(ConfigError, match=r'\.setools:2: no column MAG_AUOT .*did you mean '
                                          r'MAG_AUTO'):
        run(catalog_path, '[MASK:a]\nMAG_AUOT > 1\n', tmp_path / 'o')


def test_runner_through_shapepipe_run(catalog_path, tmp_path):
    os.makedirs(tmp_path / 'input')
    os.rename(catalog_path, tmp_path / 'input' / catalog_path.name)
    (tmp_path / 'config.ini').write_text(f"""
[DEFAULT]
VERBOSE = False
RUN_DATETIME = False
[EXECUTION]
MODULE = setools_runner
SEED = 7
[FILE]
INPUT_DIR = {tmp_path}/input
OUTPUT_DIR = {tmp_path}/output
[SETOOLS_RUNNER]
NUMBERING_SCHEME = -0000000-0
SETOOLS_CONFIG_PATH = {GOLD_SETOOLS}
""")
    os.makedirs(tmp_path / 'output')
    bindir = os.path.dirname(sys.executable)
    result = subprocess.run([os.path.join(bindir, 'shapepipe_run'), '-c',
                             str(tmp_path / 'config.ini')], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / 'output' / 'shapepipe_run' / 'setools_runner' / 'output'
    assert sorted(os.listdir(out)) == ['mask', 'plot', 'rand_split', 'stat']
    assert (out / 'mask' / f'star_selection{NUM}.fits').is_file()
    assert sorted(os.listdir(out / 'rand_split')) == [
        f'star_split_ratio_20{NUM}.fits', f'star_split_ratio_80{NUM}.fits']


def test_plot_one_x_for_several_y(catalog_path, tmp_path):
    text = ('[PLOT:p]\nTYPE = plot\nX_1 = MAG_AUTO\nY_1 = FWHM_IMAGE\nY_2 = FWHM_IMAGE * 2\n'
            'LABEL_1 = a\nLABEL_2 = "b @len(MAG_AUTO)@"\nXLIM = 15, 26\nFORMAT = pdf\n')
    run(catalog_path, text, tmp_path / 'o')
    with open(tmp_path / 'o' / 'plot' / f'p{NUM}.pdf', 'rb') as handle:
        assert handle.read(5) == b'%PDF-'
    # X of a different length than Y is a clear error
    text = '[MASK:m]\nMAG_AUTO < 20\n[PLOT:q]\nTYPE = plot\nX = MAG_AUTO{m}\nY = FWHM_IMAGE\n'
    with pytest.raises(ConfigError, match='different lengths'):
        run(catalog_path, text, tmp_path / 'o2')
