"""Shared helpers of the fault suite: a fault runner loaded through
SHAPEPIPE_MODULE_PATH, configs, runs started in their own process group,
and the checks every fault case makes (exit status, one stderr line without a
traceback, no half-written output, no orphan process)."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

BIN = os.path.dirname(sys.executable)
N_FILES = 6

# A runner that does its work right, except for the job named in FAULT_NUMBER,
# which misbehaves as FAULT says. Its output depends only on the input, the run
# seed and the file number, so a resumed run must give identical files.
FAULT_RUNNER = '''
import os, signal, sys, time
from shapepipe.io.atomic import atomic_path
from shapepipe.modules.module_decorator import module_runner
from shapepipe.pipeline.execute import execute
from shapepipe.pipeline.options import Option
from shapepipe.pipeline.rng import make_rng

@module_runner(version='1.0', file_pattern='numbers', file_ext='.txt', options=[
    Option('FAULT', 'str', 'none', 'what the faulty job does'),
    Option('FAULT_NUMBER', 'list', [], 'file numbers of the faulty jobs'),
    Option('FAULT_ONCE', 'str', '', 'marker file: misbehave only while it does not exist'),
    Option('FAULT_IF', 'str', '', 'misbehave only while this file exists'),
    Option('FAULTS', 'list', [], 'NUMBER:FAULT pairs, for several faulty jobs'),
    Option('SLEEP', 'float', 0.0, 'seconds every job sleeps'),
])
def fault_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec, w_log):
    """Copy a number file with a seeded random value; the faulty job misbehaves."""
    opts = config.module_options(module_config_sec)
    time.sleep(opts['SLEEP'])
    faulty = file_number_string in opts['FAULT_NUMBER']
    if faulty and opts['FAULT_ONCE']:
        marker = opts['FAULT_ONCE'] + file_number_string
        faulty = not os.path.exists(marker)
        if faulty:
            open(marker, 'w').close()
    if faulty and opts['FAULT_IF']:
        faulty = os.path.exists(opts['FAULT_IF'])
    text = open(input_file_list[0]).read().strip()
    value = make_rng(config.run_seed, file_number_string).normal()
    output = os.path.join(run_dirs['output'], f'fault_out{file_number_string}.txt')
    fault = opts['FAULT'] if faulty else 'none'
    fault = dict(item.split(':') for item in opts['FAULTS']).get(file_number_string, fault)
    with atomic_path(output) as tmp:
        with open(tmp, 'w') as handle:
            handle.write(f'{text} {value:.12f}\\n')
            handle.flush()
            if fault == 'sleep':          # killed or signalled while writing
                time.sleep(60)
            elif fault == 'kill':
                os.kill(os.getpid(), signal.SIGKILL)
            elif fault == 'exit':
                sys.exit(3)
            elif fault == 'keyboard':
                raise KeyboardInterrupt
            elif fault == 'swallow':      # as numba does: Ctrl-C comes out as another error
                try:
                    open(os.path.join(run_dirs['module'], 'in_compiled_code'), 'w').close()
                    time.sleep(60)
                except KeyboardInterrupt:
                    raise RuntimeError('KeyboardInterrupt in compiled code')
            elif fault == 'hold':         # busy for 3 s the first time (a marker says when)
                marker = os.path.join(run_dirs['module'], 'hold' + file_number_string)
                if not os.path.exists(marker):
                    open(marker, 'w').close()
                    time.sleep(3)
            elif fault == 'kill_during_hold':   # dies once, while a 'hold' job is busy
                marker = os.path.join(run_dirs['module'], 'killed' + file_number_string)
                deadline = time.monotonic() + 20
                while not any(n.startswith('hold') for n in os.listdir(run_dirs['module'])):
                    time.sleep(0.02)
                    if time.monotonic() > deadline:
                        break
                if not os.path.exists(marker):
                    open(marker, 'w').close()
                    os.kill(os.getpid(), signal.SIGKILL)
            elif fault == 'raise':
                raise ValueError('bad value in ' + input_file_list[0])
            elif fault == 'execute':      # an executable that starts a child of its own
                execute(['sh', '-c', 'sleep 60 & sleep 60; wait'])
            handle.write('end\\n')
    w_log.info('wrote %s', output)
    if fault == 'exit0':              # done, then leaves with a success status
        sys.exit(0)
'''

# A downstream module: reads fault_runner's outputs.
COPY_RUNNER = '''
import os
from shapepipe.io.atomic import write_text
from shapepipe.modules.module_decorator import module_runner

@module_runner(version='1.0', input_module='fault_runner', file_pattern='fault_out',
               file_ext='.txt')
def copy_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec, w_log):
    """Copy a fault_runner output with a prefix."""
    text = open(input_file_list[0]).read()
    write_text(os.path.join(run_dirs['output'], f'copy{file_number_string}.txt'), 'copy ' + text)
'''


@pytest.fixture
def fault_env(tmp_path):
    """Input files, the fault runners, and an environment tagging every process
    the run starts (to find orphans)."""
    return make_fault_env(tmp_path)


def make_fault_env(tmp_path):
    """What :func:`fault_env` gives, in a given directory."""
    inputs = tmp_path / 'input'
    inputs.mkdir()
    for n in range(1, N_FILES + 1):
        (inputs / f'numbers_{n}.txt').write_text(f'{n * 7}\n')
    modules = tmp_path / 'fault_modules'
    modules.mkdir()
    (modules / 'fault_runner.py').write_text(FAULT_RUNNER)
    (modules / 'copy_runner.py').write_text(COPY_RUNNER)
    tag = uuid.uuid4().hex
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'],
               SHAPEPIPE_MODULE_PATH=str(modules), SHAPEPIPE_FAULT_TAG=tag)
    return tmp_path, env


def write_config(directory, name='config.ini', modules='fault_runner', batch=2,
                 backend='loky', timeout='', mode='SMP', run_datetime=True, fault='none',
                 fault_number='', extra='', output='./out'):
    """A config running the fault runner (and maybe copy_runner) on the inputs."""
    text = f"""
[DEFAULT]
VERBOSE = False
RUN_DATETIME = {run_datetime}
[EXECUTION]
MODULE = {modules}
MODE = {mode}
SEED = 5
[FILE]
INPUT_DIR = ./input
OUTPUT_DIR = {output}
NUMBERING_SCHEME = _0
[JOB]
SMP_BATCH_SIZE = {batch}
SMP_BACKEND = {backend}
TIMEOUT = {timeout}
[FAULT_RUNNER]
FAULT = {fault}
FAULT_NUMBER = {fault_number}
{extra}
"""
    path = directory / name
    path.write_text(text)
    return path


def run(args, cwd, env, timeout=120, mpi=0):
    """Run shapepipe_run to its end; return the CompletedProcess."""
    command = [os.path.join(BIN, 'shapepipe_run')] + list(args)
    if mpi:
        command = [os.path.join(BIN, 'mpiexec'), '-n', str(mpi)] + command
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def start(args, cwd, env, mpi=0):
    """Start shapepipe_run in its own process group (as a batch job is)."""
    command = [os.path.join(BIN, 'shapepipe_run')] + list(args)
    if mpi:
        command = [os.path.join(BIN, 'mpiexec'), '-n', str(mpi)] + command
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(predicate, timeout=30, what='a condition'):
    """Poll ``predicate`` until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')


def run_dirs(output):
    """Run directories under ``output``, oldest first."""
    if not os.path.isdir(output):
        return []
    return sorted(os.path.join(output, d) for d in os.listdir(output)
                  if os.path.isdir(os.path.join(output, d)))


def job_started(output, module, number):
    """The pid of the process running a job (started, not ended) in any run."""
    for run_dir in run_dirs(output):
        log = os.path.join(run_dir, module, 'logs', f'process{number}.log')
        if os.path.isfile(log):
            text = open(log).read()
            if 'pid ' in text and 'end of job' not in text:
                return int(text.split('pid ')[1].split()[0])
    return None


def job_pid(run_dir, module, number):
    """The pid that ran a job, from its process log."""
    with open(os.path.join(run_dir, module, 'logs', f'process{number}.log')) as handle:
        return int(handle.readline().split('pid ')[1])


def tagged_processes(tag):
    """Pids of live processes whose environment holds the test's tag."""
    pids = []
    needle = f'SHAPEPIPE_FAULT_TAG={tag}'.encode()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/environ', 'rb') as handle:
                environ = handle.read()
            with open(f'/proc/{entry}/stat') as handle:
                state = handle.read().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b'\0') and state != 'Z':
            pids.append(int(entry))
    return pids


def assert_no_orphans(env, timeout=5):
    """No process started by the run is left (given a moment to exit)."""
    tag = env['SHAPEPIPE_FAULT_TAG']
    deadline = time.monotonic() + timeout
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = tagged_processes(tag)
    names = {pid: open(f"/proc/{pid}/cmdline").read().replace("\0", " ")[:150] for pid in left}
    for pid in left:   # do not leave them to the other tests
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"orphan processes left: {names}"


def assert_one_line(stderr, text=''):
    """stderr is one line, without a traceback, containing ``text``."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert 'Traceback' not in stderr
    assert text in lines[0], stderr


def assert_outputs_complete(run_dir, module='fault_runner'):
    """Every file under a final name in the module's output is complete."""
    output = os.path.join(run_dir, module, 'output')
    names = [n for n in os.listdir(output) if not n.startswith('.')]
    for name in names:
        text = open(os.path.join(output, name)).read()
        assert text.endswith('end\n'), f'{name} is incomplete: {text!r}'
    return sorted(names)


def outputs(run_dir, module='fault_runner'):
    """``{name: content}`` of a module's final outputs."""
    output = os.path.join(run_dir, module, 'output')
    return {n: open(os.path.join(output, n)).read() for n in sorted(os.listdir(output))
            if not n.startswith('.')}


def main_log(run_dir):
    with open(os.path.join(run_dir, 'logs', 'shapepipe.log')) as handle:
        return handle.read()


def read_json(path):
    import json
    with open(path) as handle:
        return json.load(handle)
