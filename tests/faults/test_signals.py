"""Signals: SIGTERM, SIGHUP and SIGINT stop the run like Ctrl-C, to the whole
process group (a batch system) or to the driver alone."""

import os
import signal

import pytest

from .conftest import (
    assert_no_orphans, assert_one_line, assert_outputs_complete, job_started, main_log,
    read_json, run_dirs, start, wait_for, write_config,
)


@pytest.mark.parametrize('signum, to_group, code, fault, backend', [
    (signal.SIGTERM, True, 143, 'sleep', 'loky'),       # a batch system's wall-time limit
    (signal.SIGTERM, False, 143, 'execute', 'loky'),    # kill <driver>: workers, executables
    (signal.SIGHUP, False, 129, 'sleep', 'loky'),
    (signal.SIGINT, False, 130, 'execute', 'loky'),
    (signal.SIGTERM, False, 143, 'sleep', 'threading'),   # a job thread cannot be stopped
    (signal.SIGTERM, True, 143, 'execute', 'multiprocessing'),
])
def test_signal_stops_the_run(fault_env, signum, to_group, code, fault, backend):
    tmp, env = fault_env
    write_config(tmp, modules='fault_runner, copy_runner', fault=fault, fault_number='_3',
                 backend=backend)
    proc = start(['-c', 'config.ini'], tmp, env)
    wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_3'), what='job _3')
    run_dir = run_dirs(tmp / 'out')[-1]
    if fault == 'execute':
        wait_for(lambda: len(env_children(env)) >= 2, what='the executable and its child')
    if to_group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stdout + stderr
    assert_one_line(stderr, f'shapepipe_run: interrupted ({signal.Signals(signum).name}'
                    .replace('SIGINT', 'Ctrl-C'))
    assert f'--resume {os.path.abspath(run_dir)}' in stderr
    assert 'fault_out_3.txt' not in assert_outputs_complete(run_dir)
    log = main_log(run_dir)
    assert 'error(s); logs in' in log                       # the summary was written
    assert not os.path.exists(os.path.join(run_dir, 'copy_runner'))   # no next module
    assert read_json(os.path.join(run_dir, 'status'))['state'] == 'interrupted'
    assert read_json(os.path.join(run_dir, 'fault_runner', 'status'))['state'] == 'interrupted'
    assert_no_orphans(env)


def env_children(env):
    """Processes of the run that are executables (sh, sleep)."""
    from .conftest import tagged_processes
    found = []
    for pid in tagged_processes(env['SHAPEPIPE_FAULT_TAG']):
        try:
            name = open(f'/proc/{pid}/comm').read().strip()
        except OSError:
            continue
        if name in ('sh', 'sleep'):
            found.append(pid)
    return found


@pytest.mark.parametrize('batch', [1, 2])
def test_ctrl_c_swallowed_by_compiled_code_still_stops_the_run(fault_env, batch):
    """Ctrl-C while a job runs (in the driver, or in a worker), turned into
    another exception by the job (as numba does): the job is interrupted, not
    failed, and the run stops before the next module."""
    tmp, env = fault_env
    write_config(tmp, batch=batch, modules='fault_runner, copy_runner', fault='swallow',
                 fault_number='_2')
    proc = start(['-c', 'config.ini'], tmp, env)
    wait_for(lambda: run_dirs(tmp / 'out') and os.path.exists(
        os.path.join(run_dirs(tmp / 'out')[-1], 'fault_runner', 'in_compiled_code')),
        what='job _2 in its compiled code')
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stdout + stderr
    assert_one_line(stderr, 'shapepipe_run: interrupted (Ctrl-C)')
    run_dir = run_dirs(tmp / 'out')[-1]
    process_log = open(os.path.join(run_dir, 'fault_runner', 'logs', 'process_2.log')).read()
    assert 'end of job: interrupted' in process_log
    assert 'interrupted by SIGINT (RuntimeError: KeyboardInterrupt in compiled code)' in process_log
    ledger = os.path.join(run_dir, 'fault_runner', 'jobs.txt')
    assert not os.path.exists(ledger) or '_2 ' not in open(ledger).read()
    assert not os.path.exists(os.path.join(run_dir, 'copy_runner'))
    assert_no_orphans(env)


def test_driver_killed_outright_leaves_no_worker(fault_env):
    """SIGKILL of the driver alone (nothing can be handled there): the workers
    notice, interrupt their job (no half-written output) and end."""
    tmp, env = fault_env
    write_config(tmp, fault='execute', fault_number='_3')
    proc = start(['-c', 'config.ini'], tmp, env)
    wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_3'), what='job _3')
    wait_for(lambda: len(env_children(env)) >= 2, what='the executable and its child')
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_no_orphans(env, timeout=8)
    run_dir = run_dirs(tmp / 'out')[-1]
    assert 'fault_out_3.txt' not in assert_outputs_complete(run_dir)
    assert not [n for n in os.listdir(os.path.join(run_dir, 'fault_runner', 'output'))
                if n.startswith('.')]                    # no temporary file left either


def test_worker_started_after_its_driver_died_ends():
    """A worker still importing when the driver is killed runs its initializer
    with another parent already: it must stop all the same (it once waited for
    work forever, holding the batch job's output open)."""
    import subprocess
    import sys
    import time
    dead = subprocess.Popen(['true'])
    dead.wait()                                   # a pid that no longer runs
    code = ('import time; from shapepipe.pipeline.signals import init_worker; '
            f'init_worker(driver_pid={dead.pid}); time.sleep(60)')
    start = time.monotonic()
    proc = subprocess.run([sys.executable, '-c', code], timeout=30)
    assert time.monotonic() - start < 10
    assert proc.returncode == 143                 # ended as SIGTERM ends a worker
