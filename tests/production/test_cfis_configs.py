"""ShapePipe's production configs (example/cfis): every one validates, and the
ShapePipe keys and conventions they rely on mean what they mean in ShapePipe."""

import os

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.commands.check_config import check_config
from shapepipe.commands.get_number_objects import main as get_number_objects_main
from shapepipe.commands.get_number_objects import number_of_objects
from shapepipe.commands.job_sp import fill_merge_template, fill_shape_template
from shapepipe.errors import ConfigError
from shapepipe.modules.find_exposures_package.find_exposures import exposures_from_header
from shapepipe.modules.merge_starcat_package.merge_starcat import merge_setools_catalogs
from shapepipe.modules.psfex_package.psfex import build_command, check_image_names
from shapepipe.pipeline.run_log import RunLog, parse_input_dir, resolve_dir_or_module

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CFIS = os.path.join(REPO, 'example', 'cfis')

# The 22 pipeline configs of ShapePipe's example/cfis (develop branch).
SHAPEPIPE_CFIS_CONFIGS = [
    'config_GitFeGie_symlink.ini', 'config_GitFeGie_vos.ini', 'config_MaMa_onthefly.ini',
    'config_MaMa_save.ini', 'config_MsPl_mccd.ini', 'config_MsPl_psfex.ini',
    'config_MsPl_stars.ini', 'config_Pl_mccd.ini', 'config_Pl_psfex.ini', 'config_Rc.ini',
    'config_exp_SpMh.ini', 'config_get_tiles_vos_headers.ini', 'config_make_cat_mccd.ini',
    'config_make_cat_psfex.ini', 'config_merge_sep_cats_template.ini',
    'config_tile_MiViSmVi.ini', 'config_tile_Ng_template.ini', 'config_tile_PiViSmVi.ini',
    'config_tile_Sx_exp_mccd.ini', 'config_tile_Sx_exp_psfex.ini', 'config_tile_Uz.ini',
    'config_valjoint_Pl_mccd.ini',
]
# Ours besides: job_sp -p piff (ShapePipe's job_sp knows psfex and mccd) and the MCCD
# settings file of ShapePipe's example/cfis (not a pipeline config)
OWN_CONFIGS = ['config_tile_Sx_exp_piff.ini', 'config_tile_PfViSmVi.ini',
               'config_make_cat_piff.ini']


def test_the_set_has_shapepipe_names():
    assert sorted(f for f in os.listdir(CFIS) if f.endswith('.ini')) == sorted(
        SHAPEPIPE_CFIS_CONFIGS + OWN_CONFIGS + ['config_MCCD.ini'])


@pytest.mark.parametrize('name', SHAPEPIPE_CFIS_CONFIGS + OWN_CONFIGS)
def test_config_validates(name, tmp_path, monkeypatch):
    path = os.path.join(CFIS, name)
    monkeypatch.setenv('SP_RUN', str(tmp_path))
    monkeypatch.setenv('SP_CONFIG', CFIS)
    monkeypatch.setenv('VM_HOME', str(tmp_path))
    if name.endswith('_template.ini'):
        # job_sp fills the templates before running them
        with open(path) as handle:
            text = handle.read()
        with pytest.raises(ConfigError, match='X'):
            check_config(path, executables=False)
        text = (fill_shape_template(text, 2, 100, 199, 'psfex') if 'Ng' in name
                else fill_merge_template(text, 4))
        assert ' X\n' not in text and 'X_interp' not in text
        path = tmp_path / name.replace('_template', '')
        path.write_text(text)
    runs = check_config(str(path), executables=False)
    assert runs


def test_shape_template_filled_as_job_sp_does():
    with open(os.path.join(CFIS, 'config_tile_Ng_template.ini')) as handle:
        text = fill_shape_template(handle.read(), 3, 200, -1, 'mccd')
    assert 'RUN_NAME = run_sp_tile_ngmix_Ng3u' in text
    assert 'ID_OBJ_MIN = 200' in text and 'ID_OBJ_MAX = -1' in text
    assert 'last:mccd_interp_runner' in text


def test_find_exposures_colnum_and_prefix(tmp_path):
    header = fits.Header()
    header.add_history(' input image 2113737p.fits 40 extension(s)')
    header.add_history(' input image 2113874p.fits 40 extension(s)')
    header.add_history(' input image 2113737p.fits 40 extension(s)')   # duplicate
    header.add_history('no file here')
    path = tmp_path / 'CFIS_image-277-282.fits'
    fits.PrimaryHDU(np.zeros((2, 2)), header=header).writeto(path)
    assert exposures_from_header(str(path), column=3) == ['2113737p', '2113874p']
    assert exposures_from_header(str(path)) == ['2113737p', '2113874p']
    assert exposures_from_header(str(path), column=2) == []      # 'image': no file name
    header = fits.Header()
    header.add_history('input image simu_image-12.fits')
    fits.PrimaryHDU(np.zeros((2, 2)), header=header).writeto(path, overwrite=True)
    assert exposures_from_header(str(path), column=2, prefix='simu_image-') == ['12']


def _run_log_with(tmp_path, module, run_name='run_sp_a'):
    output = tmp_path / 'output'
    out = output / run_name / module / 'output'
    out.mkdir(parents=True)
    log = output / 'log_run_sp.txt'
    RunLog(str(log)).add_run(str(output / run_name), [module.split('_run_')[0]])
    return str(log), str(out)


def test_module_names_resolve_to_the_last_run(tmp_path):
    log, out = _run_log_with(tmp_path, 'psfex_runner')
    assert resolve_dir_or_module('psfex_runner', log) == [out]
    assert resolve_dir_or_module('PSFEX_RUNNER', log) == [out]       # case-insensitive
    assert resolve_dir_or_module('last:Psfex_Runner', log) == [out]
    assert resolve_dir_or_module('LAST:psfex_runner', log) == [out]
    assert resolve_dir_or_module(str(tmp_path), log) == [str(tmp_path)]  # a directory wins
    assert parse_input_dir('all:SPLIT_EXP_RUNNER').module == 'split_exp_runner'


def test_module_name_with_run_number(tmp_path):
    log, out = _run_log_with(tmp_path, 'sextractor_runner_run_2')
    assert resolve_dir_or_module('sextractor_runner_run_2', log) == [out]


def test_psfex_check_images_named_as_shapepipe(tmp_path):
    names = check_image_names('/out', '/in/star_split_ratio_80-2113737-12.fits', '-2113737-12',
                              ['CHI', 'RESIDUALS'])
    assert names == ['/out/star_split_ratio_80chi-2113737-12.fits',
                     '/out/star_split_ratio_80residuals-2113737-12.fits']
    dot = tmp_path / 'default.psfex'
    dot.write_text('')
    command = build_command('psfex', 'in.fits', str(dot), '/out', 'cat.cat', check_types=['CHI'],
                            check_names=names[:1])
    assert command[command.index('-CHECKIMAGE_TYPE') + 1] == 'CHI'
    assert command[command.index('-CHECKIMAGE_NAME') + 1] == names[0]
    command = build_command('psfex', 'in.fits', str(dot), '/out', 'cat.cat')
    assert command[command.index('-CHECKIMAGE_TYPE') + 1] == 'NONE'


def test_merge_starcat_setools(tmp_path):
    paths = []
    for ccd, n in ((3, 4), (12, 2)):
        columns = {name: np.full(n, 1.0) for name in (
            'XWIN_IMAGE', 'YWIN_IMAGE', 'XWIN_WORLD', 'YWIN_WORLD', 'FLUX_RADIUS', 'MAG_WIN',
            'SNR_WIN')}
        columns.update(X2WIN_IMAGE=np.full(n, 3.0), Y2WIN_IMAGE=np.full(n, 1.0),
                       XYWIN_IMAGE=np.zeros(n), FLAGS_WIN=np.zeros(n, np.int16),
                       IMAFLAGS_ISO=np.zeros(n, np.int32))
        hdu = fits.BinTableHDU.from_columns([fits.Column(name=k, array=v, format='E' if v.dtype
                                                         .kind == 'f' else 'J')
                                             for k, v in columns.items()], name='LDAC_OBJECTS')
        path = tmp_path / f'star_selection-2113737-{ccd}.fits'
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(name='LDAC_IMHEAD'), hdu]).writeto(path)
        paths.append(str(path))
    out = tmp_path / 'full_starcat-0000000.fits'
    assert merge_setools_catalogs(paths, str(out)) == 6
    merged = fits.getdata(out)
    # x2 = 3, y2 = 1: chi = (3 - 1) / (3 + 1) / 2 = 0.25; eps = 2 / (4 + 2 sqrt 3)
    np.testing.assert_allclose(merged['CHI1'], 0.25, rtol=1e-6)
    np.testing.assert_allclose(merged['EPS1'], 2 / (4 + 2 * np.sqrt(3)), rtol=1e-6)
    np.testing.assert_allclose(merged['EPS2'], 0, atol=1e-7)
    assert list(merged['CCD_NB']) == [3] * 4 + [12] * 2
    assert set(merged['EXP_NB']) == {2113737}


def test_get_number_objects(tmp_path, capsys, monkeypatch):
    log, out = _run_log_with(tmp_path, 'sextractor_runner_run_1')
    for tile, n in (('-277-282', 10), ('-277-283', 20)):
        objects = fits.BinTableHDU.from_columns(
            [fits.Column(name='NUMBER', format='J', array=np.arange(1, n + 1))],
            name='LDAC_OBJECTS')
        epoch = fits.BinTableHDU.from_columns(
            [fits.Column(name='NUMBER', format='J', array=np.arange(1, 4))], name='EPOCH_0')
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(name='LDAC_IMHEAD'), objects,
                      epoch]).writeto(os.path.join(out, f'sexcat{tile}.fits'))
    assert number_of_objects(log) == 15
    monkeypatch.chdir(tmp_path)
    assert get_number_objects_main([]) == 0
    assert capsys.readouterr().out.strip() == '15'
    assert get_number_objects_main(['--run_log', 'missing.txt']) == 2
    assert 'missing.txt' in capsys.readouterr().err


def test_split_names_equal_shapepipe_on_megacam_order(tmp_path):
    """HDU i of a MegaCam mosaic holds ccd i-1, so naming by CCD number gives
    ShapePipe's names (HDU index - 1); see docs/configuration.md."""
    from shapepipe.modules.split_exp_package.split_exp import split_mosaic
    from shapepipe.simulation.focal_plane import ccd_header

    hdus = [fits.PrimaryHDU()]
    for ccd in range(3):
        header = ccd_header(ccd, 220.0, 51.0)
        header['EXTNAME'] = f'ccd{ccd:02d}'
        hdus.append(fits.ImageHDU(np.zeros((8, 8), np.float32), header=header))
    path = tmp_path / 'image-2113737.fits'
    fits.HDUList(hdus).writeto(path)
    split_mosaic(str(path), str(tmp_path), 'image', '-2113737', 3)
    shapepipe_names = [f'image-2113737-{index - 1}.fits' for index in range(1, 4)]
    assert all((tmp_path / name).is_file() for name in shapepipe_names)
