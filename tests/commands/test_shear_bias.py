"""shapepipe_shear_bias: responses, selection response, m/c, leakage, formats and errors."""

import json

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.commands.shear_bias import (
    Cuts, main, measure_shear_bias, multiplicative_bias, read_catalog, selection_masks,
    shear_response)
from shapepipe.errors import InputError

from .synthetic_shear import make_catalog, write_final_catalog, write_ngmix_catalog

R_MATRIX = ((0.7, 0.02), (-0.01, 0.65))


def test_noiseless_response_and_exact_shear():
    # Rotated pairs, no selection effect: R exact, R_s zero, <g> = g_true exactly;
    # the rows with mcal_flags or low S/N (absurd e = 0.9) must be cut.
    catalog = make_catalog(response=R_MATRIX, n_bad=300)
    result = shear_response(catalog)
    np.testing.assert_allclose(result['R'], R_MATRIX, atol=1e-6)
    np.testing.assert_allclose(result['R_s'], 0.0, atol=1e-12)
    np.testing.assert_allclose(result['mean_g'], [0.02, 0.0], atol=1e-10)
    assert result['n_objects'] == 20300
    bias = measure_shear_bias(catalog, g_true=(0.02, 0.0), n_boot=5)
    assert abs(bias['m'][0]) < 1e-8
    assert abs(bias['c'][1]) < 1e-10
    assert bias['m'][1] is None and bias['c'][0] is None      # undetermined by a constant shear


def test_selection_response_equals_true_derivative():
    # With a shear-dependent size, the T/Tpsf cut responds to shear. The sheared
    # measurements are the same objects at g +- step, so R + R_s must equal the
    # finite-difference derivative of the selected mean ellipticity.
    step = 0.01
    g = np.array([0.02, -0.01])
    result = shear_response(make_catalog(g=g, size_effect=1.0), step=step)
    assert result['R_s'][0, 0] > 0.03 and result['R_s'][1, 1] > 0.03
    np.testing.assert_allclose(result['R'], 0.7 * np.eye(2), atol=1e-6)
    for j in range(2):
        delta = step * np.eye(2)[j]
        plus = shear_response(make_catalog(g=g + delta, size_effect=1.0), step=step)
        minus = shear_response(make_catalog(g=g - delta, size_effect=1.0), step=step)
        derivative = (plus['mean_e'] - minus['mean_e']) / (2 * step)
        np.testing.assert_allclose(result['R_total'][:, j], derivative, atol=1e-10)


def test_m_within_bootstrap_error_with_selection():
    # Shape noise, no pairs, selection response: m1 and c2 consistent with zero
    # within their bootstrap errors, and the errors match the expected scatter.
    catalog = make_catalog(g=(0.05, 0.0), pairs=False, size_effect=4.0, seed=7)
    result = measure_shear_bias(catalog, g_true=(0.05, 0.0), n_boot=200, rng=3)
    m1, m1_err = result['m'][0], result['m_err'][0]
    c2, c2_err = result['c'][1], result['c_err'][1]
    expected_m_err = 0.2 / np.sqrt(result['n_selected']) / result['R_total'][0][0] / 0.05
    assert 0.8 < m1_err / expected_m_err < 1.25
    assert abs(m1) < 3 * m1_err
    assert abs(c2) < 3 * c2_err
    # Without the selection response the bias is far outside the errors.
    R11 = result['R'][0][0]
    m_without_rs = result['mean_e'][0] / R11 / 0.05 - 1
    assert m_without_rs > 5 * m1_err


def test_injected_multiplicative_and_additive_bias():
    catalog = make_catalog(true_response=1.05 * np.eye(2) * 0.7, additive=(0.0, 0.001))
    result = measure_shear_bias(catalog, g_true=(0.02, 0.0), n_boot=0)
    assert result['m'][0] == pytest.approx(0.05, abs=1e-10)
    assert result['c'][1] == pytest.approx(0.001, abs=1e-12)
    assert multiplicative_bias([0.021, 0.001], [0.02, 0.0])['m'][0] == pytest.approx(0.05)


def test_per_object_truth_linear_fit():
    def shears(rng, n):
        return rng.uniform(-0.05, 0.05, (n, 2))

    catalog = make_catalog(g=shears, true_response=1.03 * 0.7 * np.eye(2), additive=(2e-3, 0))
    g_true = catalog['g_true']
    assert np.ptp(g_true[:, 0]) > 0.09
    result = measure_shear_bias(catalog, g_true=g_true, n_boot=10)
    np.testing.assert_allclose(result['m'], [0.03, 0.03], atol=1e-8)
    np.testing.assert_allclose(result['c'], [2e-3, 0.0], atol=1e-10)


def test_psf_leakage():
    # Exact with rotated pairs; with shape noise, within the bootstrap error.
    exact = measure_shear_bias(make_catalog(alpha=(0.1, -0.05)), n_boot=0)
    np.testing.assert_allclose(exact['alpha'], [0.1, -0.05], atol=1e-10)
    noisy = measure_shear_bias(
        make_catalog(alpha=(0.1, 0.1), pairs=False, sigma_e=0.05, sigma_psf=0.05, seed=4),
        n_boot=100, rng=1)
    for i in range(2):
        assert noisy['alpha_err'][i] < 0.015
        assert abs(noisy['alpha'][i] - 0.1) < 3 * noisy['alpha_err'][i]


def test_bootstrap_seeded_without_global_state():
    catalog = make_catalog(n=4000, pairs=False, size_effect=1.0)
    np.random.seed(12)
    state = np.random.get_state()[1].copy()
    a = measure_shear_bias(catalog, g_true=(0.02, 0), n_boot=30, rng=5)
    b = measure_shear_bias(catalog, g_true=(0.02, 0), n_boot=30, rng=np.random.default_rng(5))
    c = measure_shear_bias(catalog, g_true=(0.02, 0), n_boot=30, rng=6)
    assert a == b and a['m_err'] != c['m_err']
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_cli_final_and_ngmix_formats_agree(tmp_path, capsys):
    catalog = make_catalog(n=6000, response=R_MATRIX, size_effect=1.0, alpha=(0.1, 0.0),
                           n_bad=40)
    final = tmp_path / 'final_cat-277-282.fits'
    write_final_catalog(catalog, final)
    ngmix = tmp_path / 'ngmix-277-282.fits'
    write_ngmix_catalog(catalog, ngmix)
    outputs = {}
    for name, path in (('final', final), ('ngmix', ngmix)):
        out = tmp_path / name
        assert main(['-i', str(path), '--g-true', '0.02,0', '-o', str(out), '--n-boot', '20',
                     '--snr-min', '12', '--snr-max', '1e4']) == 0
        table = capsys.readouterr().out
        assert 'R+R_s' in table and 'm1' in table and 'alpha1' in table
        outputs[name] = json.loads((out / 'shear_bias.json').read_text())
        for plot in ('ellipticity', 'response', 'leakage'):
            assert (out / f'shear_bias_{plot}.png').stat().st_size > 1000
    assert outputs['final']['R_total'] == outputs['ngmix']['R_total']
    assert outputs['final']['m'] == outputs['ngmix']['m']
    np.testing.assert_allclose(outputs['final']['R'], R_MATRIX, atol=1e-6)
    assert outputs['final']['cuts'] == {'snr_min': 12.0, 'snr_max': 1e4, 'size_min': 0.5}
    # The same objects given through a table of final-catalogue columns.
    table = fits.getdata(final, 'RESULTS')
    assert shear_response(table)['R_total'].tolist() == outputs['final']['R_total']


def test_ngmix_sheared_hdus_matched_by_id(tmp_path):
    catalog = make_catalog(n=4000)
    order = np.random.default_rng(0).permutation(4000)
    path = tmp_path / 'ngmix-1.fits'
    write_ngmix_catalog(catalog, path, rows={'1P': order[10:], '2M': order})
    read = read_catalog(path)
    assert read['1P']['flags'][order[:10]].min() > 0                  # absent from 1P
    np.testing.assert_array_equal(read['2M']['e'], catalog['2M']['e'])
    result = shear_response(read)
    selected = selection_masks(catalog, Cuts())['NOSHEAR']
    assert result['n_selected'] == selected.sum() - selected[order[:10]].sum()
    np.testing.assert_allclose(result['R'], 0.7 * np.eye(2), atol=1e-6)


def test_cli_truth_file(tmp_path, capsys):
    catalog = make_catalog(n=4000, true_response=0.7 * 1.02 * np.eye(2))
    path = tmp_path / 'final_cat-1.fits'
    write_final_catalog(catalog, path)
    truth = tmp_path / 'truth.fits'
    # Objects 1 and 2001 (a rotated pair) have no truth; the rest, shuffled, have.
    ids = np.random.default_rng(0).permutation(np.delete(catalog['id'], [0, 2000]))
    fits.BinTableHDU.from_columns([
        fits.Column('id', 'K', array=ids), fits.Column('g1', 'D', array=np.full(3998, 0.02)),
        fits.Column('g2', 'D', array=np.zeros(3998))]).writeto(truth)
    assert main(['-i', str(path), '--truth', str(truth), '-o', str(tmp_path / 'out'),
                 '--n-boot', '5', '--no-plots']) == 0
    captured = capsys.readouterr()
    assert '2 object(s) without a true shear' in captured.err
    result = json.loads((tmp_path / 'out' / 'shear_bias.json').read_text())
    assert result['n_objects'] == 3998 and result['truth'] == str(truth)
    assert result['m'][0] == pytest.approx(0.02, abs=1e-8)


def test_bad_inputs_one_line_errors(tmp_path, capsys):
    missing = tmp_path / 'nothing.fits'
    assert main(['-i', str(missing), '-o', str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err and 'final_cat' in err

    catalog = make_catalog(n=400)
    lacking = tmp_path / 'final_cat-2.fits'
    write_final_catalog(catalog, lacking, drop=('NGMIX_SNR_1P', 'NGMIX_T_2M'))
    assert main(['-i', str(lacking), '-o', str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'NGMIX_SNR_1P, NGMIX_T_2M' in err

    good = tmp_path / 'final_cat-3.fits'
    write_final_catalog(catalog, good)
    assert main(['-i', str(good), '-o', str(tmp_path), '--snr-min', '1e6']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'no object' in err and '--snr-min' in err

    other = tmp_path / 'image.fits'
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(other)
    assert main(['-i', str(other)]) == 1
    assert 'HDUs PRIMARY only' in capsys.readouterr().err

    for argv in (['-i', str(good), '--g-true', 'abc'], ['-i', str(good), '--step', '0'],
                 ['-i', str(good), '--g-true', '0.02,0', '--truth', 'x.fits']):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    with pytest.raises(InputError, match='no object'):
        shear_response(catalog, cuts={'snr_min': 1e6})


def test_metadetect_catalogue_calibrated_from_each_sheared_selection(tmp_path):
    # A metadetection catalogue: 10% of the objects are not detected in the
    # sheared images (flags set, placeholder -10). --metadetect averages each
    # sheared catalogue over its own selection and recovers the injected
    # m = 0.02 exactly (no shape noise in the differences); the metacal
    # estimator averages the placeholders in (here R 10% low, m ~ +0.13).
    catalog = make_catalog(g=(0.02, 0.0), response=0.7 * np.eye(2),
                           true_response=1.02 * 0.7 * np.eye(2), seed=4)
    missing = np.random.default_rng(5).random(len(catalog['id'])) < 0.1
    for kind in ('1P', '1M', '2P', '2M'):
        catalog[kind]['flags'][missing] = 1 << 13
        for key in ('e', 'T', 'snr'):
            catalog[kind][key][missing] = -10.0
    result = measure_shear_bias(catalog, g_true=(0.02, 0.0), n_boot=20, metadetect=True)
    assert result['estimator'] == 'metadetect'
    assert result['m'][0] == pytest.approx(0.02, abs=1e-9)
    np.testing.assert_allclose(result['R'], 0.7 * np.eye(2), atol=1e-9)
    np.testing.assert_allclose(result['R_s'], 0.0)
    wrong = measure_shear_bias(catalog, g_true=(0.02, 0.0), n_boot=0)
    assert wrong['m'][0] > 0.1
    assert result['n_selected'] == wrong['n_selected']            # the same NOSHEAR selection
    assert result['n_selected_sheared']['1P'] < 0.92 * result['n_selected']   # 10% missing
    # The command: the same figure, and the plots written.
    path = str(tmp_path / 'ngmix-1.fits')
    write_ngmix_catalog(catalog, path)
    assert main(['-i', path, '--g-true', '0.02,0', '--metadetect', '--n-boot', '5',
                 '-o', str(tmp_path / 'out')]) == 0
    written = json.load(open(tmp_path / 'out' / 'shear_bias.json'))
    assert written['m'][0] == pytest.approx(0.02, abs=1e-6)
