"""Declared inputs and outputs: roles of a job's files, the check of every
declared input against the upstream declared outputs before any job, and the
data flow shown by shapepipe_run -l, --template and --flow."""

import glob
import os
import re

import pytest

from shapepipe.errors import ConfigError
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.pipeline.config import load_config
from shapepipe.pipeline.connections import (
    InputFiles, assign_roles, check_pipeline, data_flow, output_matches,
)
from shapepipe.pipeline.module_registry import load_runner
from shapepipe.pipeline.plan import ModuleProperties, plan_module_runs
from tests.conftest import GOLD, REPO, run_shapepipe

from .conftest import newest_run

CONFIGS = sorted(glob.glob(os.path.join(GOLD, '*.ini'))) + [
    os.path.join(REPO, 'example', 'config.ini')]


def _plan(path):
    config = load_config(path)
    config.validate_pipeline_sections()
    runs = plan_module_runs(config.pipeline('EXECUTION', 'MODULE'))
    for run in runs:
        run.info = load_runner(run.runner).runner_info
        config.validate_module_section(run.section, run.info.options)
    return config, runs, {run.name: ModuleProperties(config, run) for run in runs}


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_shipped_configs_connect(path, monkeypatch):
    monkeypatch.setenv('SP_RUN', '/tmp/sp_run')
    monkeypatch.setenv('SP_CONFIG', GOLD)
    monkeypatch.setenv('SP_N_HDU', '4')
    config, runs, props = _plan(path)
    check_pipeline(config, runs, props)
    flow = data_flow(runs, props, config)
    assert flow[0].startswith(runs[0].name + ': ')


def test_tile_branch_roles_and_flow(monkeypatch):
    monkeypatch.setenv('SP_RUN', '/tmp/sp_run')
    monkeypatch.setenv('SP_CONFIG', GOLD)
    config, runs, props = _plan(os.path.join(GOLD, 'config_tile_branch.ini'))
    flow = '\n'.join(data_flow(runs, props, config))
    assert ('ngmix_runner: catalog=tile_sexcat*.fits, image=image_vignet*.sqlite, '
            'background=background_vignet*.sqlite, psf=galaxy_psf*.sqlite, '
            'weight=weight_vignet*.sqlite, flag=flag_vignet*.sqlite') in flow
    assert '-> shapes=ngmix{num}.fits' not in flow and '-> ngmix{num}.fits' in flow
    sextractor = next(r for r in runs if r.runner == 'sextractor_runner')
    roles = assign_roles(sextractor.info.inputs, props[sextractor.name].patterns,
                         props[sextractor.name].options)
    assert roles == ['image', 'weight', 'flag']      # CFIS_image, CFIS_weight, pipeline_flag


def test_sextractor_booleans_choose_the_roles():
    inputs = load_runner('sextractor_runner').runner_info.inputs
    patterns = [('image', '.fits'), ('weight', '.fits'), ('flag', '.fits')]
    assert assign_roles(inputs, patterns, {'WEIGHT_IMAGE': False}) == ['image', None, None]
    assert assign_roles(inputs, patterns, {'WEIGHT_IMAGE': True, 'FLAG_IMAGE': True}) == [
        'image', 'weight', 'flag']
    dual = patterns + [('det', '.fits')]
    assert assign_roles(inputs, dual, {'WEIGHT_IMAGE': True, 'FLAG_IMAGE': True,
                                       'DETECTION_IMAGE': True}) == [
        'image', 'weight', 'flag', 'detection_image']
    files = InputFiles(['a.fits', 'b.fits', 'c.fits'], ['image', 'weight', None])
    assert files == ['a.fits', 'b.fits', 'c.fits'] and files.inputs == {'image': 'a.fits',
                                                                         'weight': 'b.fits'}


def test_enabled_input_without_a_pattern_stops_before_any_job(monkeypatch):
    monkeypatch.setenv('SP_RUN', '/tmp/sp_run')
    monkeypatch.setenv('SP_CONFIG', GOLD)
    path = os.path.join(GOLD, 'config_sextractor.ini')
    config, runs, props = _plan(path)
    config.set('SEXTRACTOR_RUNNER', 'PSF_FILE', 'True')
    config, runs, props = _plan_from(config)
    with pytest.raises(ConfigError, match=r"input 'psf' \(PSF_FILE = True\) has no file pattern"):
        check_pipeline(config, runs, props)


def _plan_from(config):
    runs = plan_module_runs(config.pipeline('EXECUTION', 'MODULE'))
    for run in runs:
        run.info = load_runner(run.runner).runner_info
        config.validate_module_section(run.section, run.info.options)
    return config, runs, {run.name: ModuleProperties(config, run) for run in runs}


def test_output_templates_resolve_options():
    out = Output('catalog', '{PREFIX|SUFFIX_}sexcat{num}.fits', 'fits_ldac')
    assert output_matches(out, {'PREFIX': 'tile', 'SUFFIX': ''}, 'tile_sexcat', '.fits')
    assert output_matches(out, {'PREFIX': '', 'SUFFIX': 'tile'}, 'tile_sexcat', '.fits')
    assert output_matches(out, {'PREFIX': '', 'SUFFIX': ''}, 'sexcat', '.fits', False)
    assert not output_matches(out, {'PREFIX': '', 'SUFFIX': ''}, 'tile_sexcat', '.fits')
    assert not output_matches(out, {'PREFIX': 'tile', 'SUFFIX': ''}, 'tile_sexcat', '.cat')
    split = Output('ccds', '{OUTPUT_SUFFIX}{num}.fits')
    assert output_matches(split, {'OUTPUT_SUFFIX': ['image', 'weight']}, 'weight', '.fits')
    assert not output_matches(split, {'OUTPUT_SUFFIX': ['image']}, 'flag', '.fits')
    assert output_matches(Output('m', '{*}{num}.psf'), {}, 'star_split_ratio_80', '.psf')
    classic = Output('stamps', '{PREFIX}_vignet{num}.fits', when='MODE=CLASSIC')
    assert output_matches(classic, {'MODE': 'classic', 'PREFIX': 'weight'}, 'weight_vignet',
                          '.fits')
    assert not output_matches(classic, {'MODE': 'MULTI-EPOCH', 'PREFIX': 'weight'},
                              'weight_vignet', '.fits')
    checks = Output('check', '{*}{num}.fits', when='CHECKIMAGE')
    assert not output_matches(checks, {'CHECKIMAGE': []}, 'x', '.fits')
    assert output_matches(checks, {'CHECKIMAGE': ['BACKGROUND']}, 'x', '.fits')
    with pytest.raises(ValueError, match='num'):
        Output('x', 'no_number.fits')
    with pytest.raises(ValueError, match='either inputs or file_pattern'):
        module_runner(inputs=[Input('a', 'a')], file_pattern='a')
    with pytest.raises(ValueError, match='WEIGHT_IMAGES, which is not a declared option'):
        module_runner(inputs=[Input('w', 'w', enabled_by='WEIGHT_IMAGES')])


def test_mismatched_input_stops_the_run_naming_both(toy):
    config = (toy / 'config.ini').read_text() + 'FILE_EXT = .txt\n'   # EXECUTE_..._RUN_2
    (toy / 'config.ini').write_text(config)
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert '\n' not in line
    assert ("execute_example_runner_run_2 input 'text' pyex_output*.txt matches no declared "
            "output of python_example_runner_run_2 (python_example_runner_run_2: "
            "pyex_output{num}.cat)") in line
    assert not (toy / 'example' / 'output').exists()


USER_RUNNERS = {
    'roles_user_runner.py': '''
import os
from shapepipe.modules.module_decorator import Input, Output, module_runner

@module_runner(input_module='python_example_runner',
               inputs=[Input('joined', 'pyex_output', '.cat')],
               outputs=[Output('copy', 'copy{num}.txt', 'txt')])
def roles_user_runner(input_file_list, run_dirs, file_number_string, config, section, w_log):
    """Copy the joined text, found by role."""
    with open(input_file_list.inputs['joined']) as src:
        text = src.read()
    with open(os.path.join(run_dirs['output'], f'copy{file_number_string}.txt'), 'w') as out:
        out.write(text)
    return 'ok', ''
''',
    'plain_user_runner.py': '''
import os
from shapepipe.modules.module_decorator import module_runner

@module_runner(input_module='roles_user_runner', file_pattern='copy', file_ext='.txt')
def plain_user_runner(input_file_list, run_dirs, file_number_string, config, section, w_log):
    """A ShapePipe-style runner: a list, no declared roles."""
    assert input_file_list.inputs == {}
    with open(input_file_list[0]) as src:
        text = src.read()
    with open(os.path.join(run_dirs['output'], f'plain{file_number_string}.txt'), 'w') as out:
        out.write(text.upper())
    return 'ok', ''
''',
}


def test_user_runners_with_and_without_declarations(toy):
    user = toy / 'user_modules'
    user.mkdir()
    for name, text in USER_RUNNERS.items():
        (user / name).write_text(text)
    config = (toy / 'config.ini').read_text()
    config = config.replace(
        'MODULE = python_example_runner, serial_example_runner, execute_example_runner,\n'
        '         python_example_runner, execute_example_runner',
        'MODULE = python_example_runner, roles_user_runner, plain_user_runner')
    config = config.replace('[PYTHON_EXAMPLE_RUNNER_RUN_1]', '[PYTHON_EXAMPLE_RUNNER]')
    # The _RUN_2 sections of modules that now run once would be refused as unknown.
    config = re.sub(r'\[\w+_RUN_2\][^\[]*', '', config)
    (toy / 'config.ini').write_text(config)
    env = {'SHAPEPIPE_MODULE_PATH': str(user)}
    flow = run_shapepipe(['-c', 'config.ini', '--flow'], cwd=toy, env=env)
    assert flow.returncode == 0, flow.stderr
    assert 'roles_user_runner: joined=pyex_output*.cat <- python_example_runner' in flow.stdout
    assert 'plain_user_runner: copy*.txt <- roles_user_runner' in flow.stdout
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    run_dir = newest_run(toy / 'example' / 'output')
    outputs = sorted(glob.glob(os.path.join(run_dir, 'plain_user_runner', 'output', '*.txt')))
    joined = glob.glob(os.path.join(run_dir, 'python_example_runner', 'output', '*.cat'))
    assert len(outputs) == len(joined) >= 2
    with open(outputs[0]) as handle:
        assert 'THE OBTAINED VALUE IS:' in handle.read()
    listing = run_shapepipe(['-l'], cwd=toy, env=env).stdout
    assert 'in:  joined=pyex_output*.cat' in listing and 'out: copy=copy{num}.txt [txt]' in listing
    template = run_shapepipe(['--template', 'ngmix_runner'], cwd=toy).stdout
    assert '# Inputs by role: catalog=tile_sexcat*.fits' in template
    assert '# Outputs: shapes=ngmix{num}.fits [fits]' in template
