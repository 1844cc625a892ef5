import pytest

from shapepipe.errors import ConfigError
from shapepipe.pipeline.config import load_config, parse_timeout
from shapepipe.pipeline.options import Option, read_options

BASE = """
[EXECUTION]
MODULE = python_example_runner
[FILE]
INPUT_DIR = $MY_INPUT/data, ./other
OUTPUT_DIR = ./out
[JOB]
SMP_BATCH_SIZE = 2
"""


def write(tmp_path, text, name='config.ini'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_env_expansion_lists_and_continuation(tmp_path, monkeypatch):
    monkeypatch.setenv('MY_INPUT', '/data/run')
    config = load_config(write(tmp_path, BASE + "[X]\nLIST = a,\n  b, $MY_INPUT\n"))
    config.validate_pipeline_sections()
    assert config.pipeline('FILE', 'INPUT_DIR') == ['/data/run/data', './other']
    assert config.getlist('X', 'list') == ['a', 'b', '/data/run']
    assert config.pipeline('JOB', 'SMP_BATCH_SIZE') == 2
    assert config.pipeline('DEFAULT', 'RUN_NAME') == 'shapepipe_run'
    assert config.pipeline('EXECUTION', 'MODE') == 'smp'


def test_unknown_key_suggests_the_right_one(tmp_path):
    config = load_config(write(tmp_path, BASE.replace('SMP_BATCH_SIZE', 'SMP_BATCH_SIZ')))
    with pytest.raises(ConfigError) as error:
        config.validate_pipeline_sections()
    message = str(error.value)
    assert 'config.ini [JOB] unknown key SMP_BATCH_SIZ (did you mean SMP_BATCH_SIZE?)' == message


def test_wrong_type_names_file_section_key(tmp_path):
    config = load_config(write(tmp_path, BASE.replace('= 2', '= two')))
    with pytest.raises(ConfigError, match=r"config.ini \[JOB\] SMP_BATCH_SIZE = 'two': expected int"):
        config.validate_pipeline_sections()


def test_missing_required_key_and_section(tmp_path):
    config = load_config(write(tmp_path, BASE.replace('OUTPUT_DIR = ./out', '')))
    with pytest.raises(ConfigError, match=r'\[FILE\] missing required key OUTPUT_DIR'):
        config.validate_pipeline_sections()
    config = load_config(write(tmp_path, '[FILE]\nINPUT_DIR=.\nOUTPUT_DIR=.\n'))
    with pytest.raises(ConfigError, match=r'missing section \[EXECUTION\]'):
        config.validate_pipeline_sections()


def test_module_section_validation(tmp_path):
    config = load_config(write(tmp_path, BASE + '[PYTHON_EXAMPLE_RUNNER]\nMESAGE = hi\n'))
    declared = [Option('MESSAGE', 'str', doc='the message')]
    with pytest.raises(ConfigError, match='unknown key MESAGE \\(did you mean MESSAGE\\?\\)'):
        config.validate_module_section('PYTHON_EXAMPLE_RUNNER', declared)
    config = load_config(write(tmp_path, BASE))
    with pytest.raises(ConfigError, match=r'missing section \[PYTHON_EXAMPLE_RUNNER\]'):
        config.validate_module_section('PYTHON_EXAMPLE_RUNNER', declared)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        load_config(str(tmp_path / 'missing.ini'))
    with pytest.raises(ConfigError, match='not a valid config file'):
        load_config(write(tmp_path, 'no section header\n'))


def test_option_types_and_choices():
    declared = [Option('A', 'int_list', [1]), Option('B', 'bool', False), Option('C', 'float', 1.0),
                Option('D', 'str', 'smp', choices=('smp', 'mpi'))]
    values = read_options(declared, {'A': '1, 2,3', 'B': 'yes', 'D': 'MPI'}, '')
    assert values == {'A': [1, 2, 3], 'B': True, 'C': 1.0, 'D': 'mpi'}
    with pytest.raises(ConfigError, match='not one of smp, mpi'):
        read_options(declared, {'D': 'pbs'}, '')
    with pytest.raises(ConfigError, match='expected bool'):
        read_options(declared, {'B': 'maybe'}, '')


@pytest.mark.parametrize('text, seconds', [('00:01:35', 95), ('90', 90), ('1:00', 60),
                                           (None, None), ('', None)])
def test_timeout(text, seconds):
    assert parse_timeout(text) == seconds


def test_bad_timeout():
    with pytest.raises(ConfigError, match='HH:MM:SS'):
        parse_timeout('1h')
