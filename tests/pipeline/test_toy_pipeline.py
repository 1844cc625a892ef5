"""The toy pipeline end to end: SMP, MPI, failures, time limits, links, Ctrl-C."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import BIN, run_shapepipe, tool_env

from .conftest import newest_run

EXPECTED_RUNS = ['python_example_runner_run_1', 'serial_example_runner',
                 'execute_example_runner_run_1', 'python_example_runner_run_2',
                 'execute_example_runner_run_2']


def check_toy_outputs(run_dir):
    for name in EXPECTED_RUNS:
        assert os.path.isdir(os.path.join(run_dir, name, 'output')), name
    first = os.path.join(run_dir, 'python_example_runner_run_1')
    assert sorted(os.listdir(os.path.join(first, 'output'))) == [
        f'pyex_output_{n}.cat' for n in (1, 2, 4, 5)]
    assert sorted(os.listdir(os.path.join(first, 'logs'))) == [
        f'process_{n}.log' for n in (1, 2, 4, 5)]
    with open(os.path.join(first, 'output', 'pyex_output_4.cat')) as handle:
        assert handle.read() == 'The obtained value is: 4 and d\n'
    with open(os.path.join(run_dir, 'execute_example_runner_run_2', 'output', 'head_output_5.txt')) as h:
        assert h.read() == ('The new obtained value is: The obtained value is: 5 and e and '
                            'The obtained value is: 5 and e\n')
    with open(os.path.join(run_dir, 'serial_example_runner', 'output', 'serial_outputs.txt')) as h:
        lines = h.read().splitlines()
    assert lines[:8] == ['1', '2', '4', '5', 'a', 'b', 'd', 'e'] and len(lines) == 12
    assert os.path.isfile(os.path.join(run_dir, 'serial_example_runner', 'logs', 'process_serial.log'))
    assert os.path.isfile(os.path.join(run_dir, 'logs', 'config.ini'))
    with open(os.path.join(run_dir, 'logs', 'shapepipe.log')) as handle:
        log = handle.read()
    assert 'executable head: ' in log and 'python packages: ' in log
    assert '0 error(s)' in log


def test_toy_pipeline_smp(toy):
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 0, result.stdout + result.stderr
    output = toy / 'example' / 'output'
    run_dir = newest_run(output)
    check_toy_outputs(run_dir)
    with open(output / 'shapepipe_runs.txt') as handle:
        line = handle.read().strip()
    assert line == (f'./example/output/{os.path.basename(run_dir)} python_example_runner,'
                    'serial_example_runner,execute_example_runner,python_example_runner,'
                    'execute_example_runner')


def test_toy_pipeline_mpi(toy):
    config = (toy / 'config.ini').read_text().replace('MODE = SMP', 'MODE = MPI')
    (toy / 'config.ini').write_text(config)
    env = tool_env()
    result = subprocess.run(
        [os.path.join(BIN, 'mpiexec'), '-n', '2', os.path.join(BIN, 'shapepipe_run'), '-c',
         'config.ini'], cwd=toy, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = newest_run(toy / 'example' / 'output')
    check_toy_outputs(run_dir)
    pids = set()
    logs = os.path.join(run_dir, 'python_example_runner_run_1', 'logs')
    for name in os.listdir(logs):
        with open(os.path.join(logs, name)) as handle:
            pids.add(handle.readline().split('pid ')[1].strip())
    assert len(pids) == 2   # both ranks ran jobs
    assert 'mode MPI' in open(os.path.join(run_dir, 'logs', 'shapepipe.log')).read()


def test_smp_config_under_mpiexec_is_refused(toy):
    env = tool_env()
    result = subprocess.run(
        [os.path.join(BIN, 'mpiexec'), '-n', '2', os.path.join(BIN, 'shapepipe_run'), '-c',
         'config.ini'], cwd=toy, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert 'set MODE = MPI' in result.stderr


def test_failing_job_does_not_stop_the_others(toy):
    (toy / 'example' / 'data' / 'letters' / 'letters_2.txt').write_bytes(b'\xff\xfe\xfa')
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 1
    run_dir = newest_run(toy / 'example' / 'output')
    first = os.path.join(run_dir, 'python_example_runner_run_1')
    assert sorted(os.listdir(os.path.join(first, 'output'))) == [
        f'pyex_output_{n}.cat' for n in (1, 4, 5)]
    with open(os.path.join(first, 'logs', 'process_2.log')) as handle:
        assert 'Traceback' in handle.read()
    # Later modules still ran on what exists.
    assert len(os.listdir(os.path.join(run_dir, 'execute_example_runner_run_2', 'output'))) == 3
    log = open(os.path.join(run_dir, 'logs', 'shapepipe.log')).read()
    assert 'ERROR python_example_runner_run_1 job _2: UnicodeDecodeError' in log
    assert 'process_2.log' in log


SLEEP_RUNNER = '''
import os, time
from shapepipe.modules.module_decorator import module_runner
from shapepipe.pipeline.options import Option

@module_runner(version='0.1', file_pattern='numbers', file_ext='.txt',
               options=[Option('SLEEP', 'float', 0.0, 'seconds to sleep for job _2')])
def sleep_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec, w_log):
    """Sleep for some jobs, then write a file."""
    if file_number_string == '_2':
        time.sleep(config.module_options(module_config_sec)['SLEEP'])
    with open(os.path.join(run_dirs['output'], f'slept{file_number_string}.txt'), 'w') as out:
        out.write('done')
'''


def sleep_config(toy, backend, batch, sleep, timeout):
    modules = toy / 'my_modules'
    modules.mkdir(exist_ok=True)
    (modules / 'sleep_runner.py').write_text(SLEEP_RUNNER)
    (toy / 'sleep.ini').write_text(f"""
[EXECUTION]
MODULE = sleep_runner
[FILE]
INPUT_DIR = ./example/data/numbers
OUTPUT_DIR = ./out
NUMBERING_SCHEME = _0
[JOB]
SMP_BATCH_SIZE = {batch}
SMP_BACKEND = {backend}
TIMEOUT = {timeout}
[SLEEP_RUNNER]
SLEEP = {sleep}
""")
    return {'SHAPEPIPE_MODULE_PATH': str(modules)}


@pytest.mark.parametrize('backend, batch', [('loky', 2), ('threading', 2), ('loky', 1)])
def test_timeout_with_every_backend(toy, backend, batch):
    env = sleep_config(toy, backend, batch, sleep=30, timeout='00:00:02')
    start = time.monotonic()
    result = run_shapepipe(['-c', 'sleep.ini'], cwd=toy, env=env)
    assert time.monotonic() - start < 20
    assert result.returncode == 1
    run_dir = newest_run(toy / 'out')
    assert sorted(os.listdir(os.path.join(run_dir, 'sleep_runner', 'output'))) == [
        'slept_1.txt', 'slept_4.txt', 'slept_5.txt']
    log = open(os.path.join(run_dir, 'logs', 'shapepipe.log')).read()
    assert 'job _2: JobTimeoutError' in log or 'job _2: job TIMEOUT reached' in log


def test_ctrl_c_stops_and_keeps_finished_outputs(toy):
    env = sleep_config(toy, 'loky', 1, sleep=60, timeout='')
    full_env = tool_env(**env)
    proc = subprocess.Popen([os.path.join(BIN, 'shapepipe_run'), '-c', 'sleep.ini'], cwd=toy,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.isdir(toy / 'out') and any(
                os.path.exists(os.path.join(toy, 'out', d, 'sleep_runner', 'output', 'slept_1.txt'))
                for d in os.listdir(toy / 'out')):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stdout + stderr
    run_dir = newest_run(toy / 'out')
    assert os.listdir(os.path.join(run_dir, 'sleep_runner', 'output')) == ['slept_1.txt']
    assert 'interrupted (Ctrl-C)' in open(os.path.join(run_dir, 'logs', 'shapepipe.log')).read()


def test_last_link_to_an_earlier_run(toy):
    assert run_shapepipe(['-c', 'config.ini'], cwd=toy).returncode == 0
    (toy / 'second.ini').write_text("""
[EXECUTION]
MODULE = execute_example_runner
[FILE]
INPUT_DIR = last:python_example_runner_run_2
OUTPUT_DIR = ./example/output
NUMBERING_SCHEME = _0
""")
    time.sleep(1.1)   # a new run-directory name
    result = run_shapepipe(['-c', 'second.ini'], cwd=toy)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = newest_run(toy / 'example' / 'output')
    text = open(os.path.join(run_dir, 'execute_example_runner', 'output', 'head_output_1.txt')).read()
    assert text.startswith('The new obtained value is:')
    # An input module that did not run in this pipeline resolves through the run log.
    (toy / 'third.ini').write_text("""
[EXECUTION]
MODULE = serial_example_runner
[FILE]
INPUT_DIR = ./example/data
OUTPUT_DIR = ./example/output
NUMBERING_SCHEME = _0
[SERIAL_EXAMPLE_RUNNER]
INPUT_MODULE = python_example_runner
ADD_INPUT_DIR = ./example/data/numbers, ./example/data/letters
""")
    time.sleep(1.1)
    result = run_shapepipe(['-c', 'third.ini'], cwd=toy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('change, message', [
    (('python_example_runner,', 'python_exampel_runner,'),
     "unknown module 'python_exampel_runner' in [EXECUTION] MODULE (did you mean python_example_runner?)"),
    (('MESSAGE = The obtained', 'MESAGE = The obtained'),
     'config.ini [PYTHON_EXAMPLE_RUNNER_RUN_1] unknown key MESAGE (did you mean MESSAGE?)'),
    (('INPUT_DIR = ./example/data', 'INPUT_DIR = ./example/nothing'),
     "input directory './example/nothing' does not exist"),
    (('INPUT_DIR = ./example/data', 'INPUT_DIR = last:mask_runner'),
     'last:mask_runner: no run in'),
    (('NUMBERING_SCHEME = _0', 'NUMBERING_SCHEME = RE:_(\\d+'), 'not a valid regular expression'),
])
def test_setup_errors_are_one_line_before_any_job(toy, change, message):
    config = (toy / 'config.ini').read_text().replace(*change)
    (toy / 'config.ini').write_text(config)
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert 'Traceback' not in result.stderr
    assert not (toy / 'example' / 'output').exists()   # nothing was started


def test_no_matching_files_fails_the_module_not_the_run(toy):
    shutil.rmtree(toy / 'example' / 'data' / 'letters')
    (toy / 'example' / 'data' / 'letters').mkdir()
    config = (toy / 'config.ini').read_text().replace(
        'ADD_INPUT_DIR = ./example/data/numbers, ./example/data/letters',
        'ADD_INPUT_DIR = ./example/data/numbers')
    (toy / 'config.ini').write_text(config)
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 1
    assert "no file matches pattern 'letters'" in result.stdout


def test_missing_executable_stops_before_any_job(toy):
    config = (toy / 'config.ini').read_text() + '\n[EXECUTE_EXAMPLE_RUNNER_RUN_1]\nEXECUTES = no_such_tool\n'
    (toy / 'config.ini').write_text(config)
    result = run_shapepipe(['-c', 'config.ini'], cwd=toy)
    assert result.returncode == 2
    assert "needs the executable 'no_such_tool', which is not on the PATH" in result.stderr
    assert not (toy / 'example' / 'output').exists()


def test_cli_list_template_version(toy):
    listing = run_shapepipe(['-l'], cwd=toy)
    assert listing.returncode == 0
    assert 'python_example_runner' in listing.stdout and '1.1' in listing.stdout
    template = run_shapepipe(['--template', 'python_example_runner'], cwd=toy)
    assert '[PYTHON_EXAMPLE_RUNNER]' in template.stdout
    assert '# Text written before the joined file contents (str, required)' in template.stdout
    version = run_shapepipe(['-v'], cwd=toy)
    assert version.stdout.startswith('shapepipe ')
    missing = run_shapepipe(['-c', 'nothing.ini'], cwd=toy)
    assert missing.returncode == 2 and "config file 'nothing.ini' not found" in missing.stderr
