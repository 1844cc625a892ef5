"""--resume (and [EXECUTION] RESUME) finishes an interrupted or partly failed
run in place, with outputs identical to an uninterrupted run."""

import os
import signal

import pytest

from shapepipe.pipeline.run_state import JobLedger

from .conftest import (
    N_FILES, assert_one_line, assert_outputs_complete, job_started, main_log, make_fault_env,
    outputs, read_json, run, run_dirs, start, wait_for, write_config,
)

MODULES = 'fault_runner, copy_runner'


@pytest.fixture(scope='module')
def expected(tmp_path_factory):
    """Outputs of an uninterrupted run of both modules on the same inputs."""
    tmp, env = make_fault_env(tmp_path_factory.mktemp('reference'))
    write_config(tmp, modules=MODULES, batch=1)
    assert run(['-c', 'config.ini'], tmp, env).returncode == 0
    run_dir = run_dirs(tmp / 'out')[-1]
    return outputs(run_dir), outputs(run_dir, 'copy_runner')


def stop_halfway(tmp, env, signum, extra=''):
    """Start both modules and stop the run with ``signum`` (to its process
    group) while job _4 of fault_runner sleeps, half-written."""
    write_config(tmp, modules=MODULES, fault='sleep', fault_number='_4',
                 extra=f'FAULT_ONCE = {tmp}/slept\n' + extra)
    proc = start(['-c', 'config.ini'], tmp, env)
    wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_4'), what='job _4')
    wait_for(lambda: os.path.exists(f'{tmp}/slept_4'), what='job _4 to sleep')
    os.killpg(proc.pid, signum)
    proc.communicate(timeout=30)
    return proc.returncode, run_dirs(tmp / 'out')[-1]


def test_resume_after_sigterm_gives_the_uninterrupted_outputs(fault_env, expected):
    tmp, env = fault_env
    code, run_dir = stop_halfway(tmp, env, signal.SIGTERM)
    assert code == 143
    # Jobs recorded ok before the stop (a job whose output landed just before
    # the signal, but that the driver had not yet recorded, is rerun).
    done_before = len(JobLedger(os.path.join(run_dir, 'fault_runner')).done())
    assert 0 < done_before <= len(outputs(run_dir))
    assert 'fault_out_4.txt' not in assert_outputs_complete(run_dir)
    result = run(['-c', 'config.ini', '--resume'], tmp, env)   # the newest run of config.ini
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_dirs(tmp / 'out') == [run_dir]                   # finished in place
    assert (outputs(run_dir), outputs(run_dir, 'copy_runner')) == expected
    log = main_log(run_dir)
    assert f'resuming run {run_dir}'.replace(str(tmp), '.') in log.replace(str(tmp), '.')
    assert (f'{N_FILES} job(s): {done_before} done before (skipped), '
            f'{N_FILES - done_before} to run') in log
    assert f'0 error(s), {done_before} job(s) done before and skipped (--resume)' in log
    assert read_json(os.path.join(run_dir, 'status'))['state'] == 'finished'
    # The run log keeps one line for the run.
    assert len(open(tmp / 'out' / 'shapepipe_runs.txt').readlines()) == 1


def test_resume_after_sigkill_with_the_config_key(fault_env, expected):
    """The whole run SIGKILLed (nothing written at the end): RESUME = True in
    the config finishes it."""
    tmp, env = fault_env
    code, run_dir = stop_halfway(tmp, env, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert read_json(os.path.join(run_dir, 'status'))['state'] == 'running'
    config = (tmp / 'config.ini').read_text().replace('SEED = 5', 'SEED = 5\nRESUME = True')
    (tmp / 'config.ini').write_text(config)
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_dirs(tmp / 'out') == [run_dir]
    assert (outputs(run_dir), outputs(run_dir, 'copy_runner')) == expected


def test_resume_reruns_only_failed_jobs(fault_env, expected):
    """A run with a failed job (a bad input, since mended): --resume RUN_DIR
    runs that job and the downstream job it lacked, nothing else."""
    tmp, env = fault_env
    (tmp / 'bad_input').write_text('')
    write_config(tmp, modules=MODULES, fault='raise', fault_number='_2',
                 extra=f'FAULT_IF = {tmp}/bad_input')
    assert run(['-c', 'config.ini'], tmp, env).returncode == 1
    run_dir = run_dirs(tmp / 'out')[-1]
    assert len(outputs(run_dir, 'copy_runner')) == N_FILES - 1
    ok_log = os.path.join(run_dir, 'fault_runner', 'logs', 'process_1.log')
    before = open(ok_log).read()
    os.remove(tmp / 'bad_input')
    result = run(['-c', 'config.ini', '--resume', run_dir], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (outputs(run_dir), outputs(run_dir, 'copy_runner')) == expected
    log = main_log(run_dir)
    assert log.count(f'{N_FILES} job(s): {N_FILES - 1} done before (skipped), 1 to run') == 2
    assert open(ok_log).read() == before          # job _1 did not run again


def test_resume_without_an_earlier_run_is_one_line(fault_env):
    tmp, env = fault_env
    write_config(tmp)
    result = run(['-c', 'config.ini', '--resume'], tmp, env)
    assert result.returncode == 2
    assert_one_line(result.stderr, '--resume: no run of these modules named shapepipe_run*')
    result = run(['-c', 'config.ini', '--resume', str(tmp / 'nowhere')], tmp, env)
    assert result.returncode == 2
    assert_one_line(result.stderr, 'no such run directory')
