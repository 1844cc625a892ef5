"""Config errors: one line on stderr, exit status 2, before any job starts.

Each test runs ``shapepipe_run -c config.ini`` in this process and checks that
no run directory was made (no job started).
"""

import pytest

from .fault_helpers import assert_one_error_line, run_main, toy_config, write_config


def no_run_started(tmp_path):
    output = tmp_path / 'output'
    return not output.exists() or not any(p.is_dir() for p in output.iterdir())


def test_misspelt_run_section_is_refused_with_did_you_mean(tmp_path, capsys):
    # The second run's INPUT_MODULE would silently not be applied.
    config = toy_config(
        tmp_path, module='python_example_runner, python_example_runner',
        extra='[PYTHON_EXAMPLE_RUNER_RUN_2]\nINPUT_MODULE = python_example_runner_run_1\n')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'unknown section [PYTHON_EXAMPLE_RUNER_RUN_2]',
                          'did you mean PYTHON_EXAMPLE_RUNNER_RUN_2?')
    assert no_run_started(tmp_path)


def test_unknown_section_is_refused(tmp_path, capsys):
    config = toy_config(tmp_path, extra='[JOBS]\nSMP_BATCH_SIZE = 4\n')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'unknown section [JOBS]', 'did you mean JOB?')
    assert no_run_started(tmp_path)


def test_run_section_of_a_module_that_runs_once_is_refused(tmp_path, capsys):
    config = toy_config(tmp_path, extra='[PYTHON_EXAMPLE_RUNNER_RUN_2]\nMESSAGE = x\n')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, '[PYTHON_EXAMPLE_RUNNER_RUN_2]',
                          'python_example_runner runs 1 time(s)')


def test_sections_of_runners_left_out_of_module_are_accepted(tmp_path, capsys):
    config = toy_config(tmp_path, extra='[SETOOLS_RUNNER]\nSETOOLS_CONFIG_PATH = x\n'
                                        '[DEFAULT]\nMY_VARIABLE = 3\n')
    status, lines, _ = run_main(config, capsys)
    assert status == 0 and lines == []


def test_empty_module_list(tmp_path, capsys):
    config = toy_config(tmp_path, module='')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, '[EXECUTION] MODULE is empty')
    assert no_run_started(tmp_path)


@pytest.mark.parametrize('value, message', [
    ('nan', 'is not a finite time'), ('inf', 'is not a finite time'),
    ('-inf', 'is not a finite time'), ('1e300', 'more than 30 days'),
    ('-5', 'must be positive'), ('99:99:99:99', 'expected HH:MM:SS'),
])
def test_bad_timeout(tmp_path, capsys, value, message):
    config = toy_config(tmp_path, job=f'TIMEOUT = {value}')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, f"TIMEOUT = '{value}'", message)
    assert no_run_started(tmp_path)


def test_bad_module_timeout(tmp_path, capsys):
    config = toy_config(tmp_path, extra='TIMEOUT = nan\n')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, '[PYTHON_EXAMPLE_RUNNER] TIMEOUT', 'not a finite time')


@pytest.mark.parametrize('scheme, message', [
    (r'RE:_(?P<num>\d+)', 'has a named group (num)'),
    (r'RE:_(\d+', 'is not a valid regular expression'),
    (r'RE:_?\d*', 'matches an empty string'),
])
def test_unusable_numbering_regex(tmp_path, capsys, scheme, message):
    config = toy_config(tmp_path, file_extra=f'NUMBERING_SCHEME = {scheme}')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'NUMBERING_SCHEME', message)
    assert no_run_started(tmp_path)


@pytest.mark.parametrize('text, line, message', [
    ('[EXECUTION]\nMODULE = python_example_runner\nthis is not a key\n', 3,
     "not a KEY = VALUE line or a [SECTION] header: 'this is not a key'"),
    ('MODULE = python_example_runner\n', 1, 'a key before the first [SECTION] header'),
    ('[EXECUTION]\nMODULE = a\n\n[FILE\nX = 1\n', 4, "'[FILE'"),
    ('[EXECUTION]\nMODULE = a\n[FILE]\n[EXECUTION]\n', 4, "section 'EXECUTION' already exists"),
    ('[EXECUTION]\nMODULE = a\nMODE = smp\nmodule = b\n', 4, "option 'MODULE'"),
])
def test_config_syntax_error_names_file_and_line(tmp_path, capsys, text, line, message):
    config = write_config(tmp_path / 'broken config.ini', text)
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, f'broken config.ini:{line}:', message)


def test_interpolation_error_is_one_line(tmp_path, capsys):
    config = write_config(tmp_path / 'c.ini', '[EXECUTION]\nMODULE = %(missing)s\n')
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'c.ini: not a valid config file', "interpolation key 'MISSING'")


@pytest.mark.parametrize('name, source, fragments', [
    ('broken_syntax_runner', 'def broken_syntax_runner(:\n    pass\n',
     ('broken_syntax_runner.py:1', 'SyntaxError', 'SHAPEPIPE_MODULE_PATH')),
    ('broken_import_runner', 'import no_such_package_xyz\n',
     ("ModuleNotFoundError: No module named 'no_such_package_xyz'",)),
    ('raising_runner', "raise RuntimeError('bad\\nsecond line')\n", ('RuntimeError: bad',)),
])
def test_broken_user_runner(tmp_path, capsys, monkeypatch, name, source, fragments):
    runners = tmp_path / 'my runners'
    runners.mkdir()
    (runners / f'{name}.py').write_text(source)
    monkeypatch.setenv('SHAPEPIPE_MODULE_PATH', str(runners))
    config = toy_config(tmp_path, module=name)
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, f'module {name} cannot be imported', *fragments)
    assert no_run_started(tmp_path)
