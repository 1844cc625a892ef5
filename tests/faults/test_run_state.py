"""Run state: runs and module runs are marked complete when they end, links
resolve only through complete module runs, RUN_DATETIME = False reruns do not
pass earlier outputs off as new."""

import os
import signal

from .conftest import (
    N_FILES, assert_one_line, job_started, main_log, outputs, read_json,
    run, run_dirs, start, wait_for, write_config,
)

LINKED = """
[COPY_RUNNER]
INPUT_DIR = last:fault_runner
"""


def interrupted_run(tmp, env, signum):
    """A fault_runner run stopped by ``signum`` (to its group) while job _3 sleeps."""
    write_config(tmp, name='stopped.ini', fault='sleep', fault_number='_3')
    proc = start(['-c', 'stopped.ini'], tmp, env)
    wait_for(lambda: job_started(tmp / 'out', 'fault_runner', '_3'), what='job _3')
    os.killpg(proc.pid, signum)
    proc.communicate(timeout=30)
    return run_dirs(tmp / 'out')[-1]


def test_last_link_passes_over_an_interrupted_run(fault_env):
    tmp, env = fault_env
    write_config(tmp)
    assert run(['-c', 'config.ini'], tmp, env).returncode == 0
    complete = run_dirs(tmp / 'out')[-1]
    assert read_json(os.path.join(complete, 'status'))['state'] == 'finished'
    assert read_json(os.path.join(complete, 'fault_runner', 'status'))['state'] == 'complete'
    stopped = interrupted_run(tmp, env, signal.SIGTERM)
    assert stopped != complete
    write_config(tmp, name='copy.ini', modules='copy_runner', extra=LINKED)
    result = run(['-c', 'copy.ini'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    copied = run_dirs(tmp / 'out')[-1]
    assert len(outputs(copied, 'copy_runner')) == N_FILES
    note = [line for line in main_log(copied).splitlines() if 'last:fault_runner' in line]
    assert len(note) == 1
    assert (f'the newest run of it, {stopped}/fault_runner, was interrupted; using '
            f'{complete}/fault_runner/output') in note[0].replace('./out', str(tmp / 'out'))


def test_a_killed_run_is_never_taken_for_a_complete_one(fault_env):
    """SIGKILL of the whole run (nothing can be written): its status stays
    'running' and a link to it is refused in one line naming --resume."""
    tmp, env = fault_env
    stopped = interrupted_run(tmp, env, signal.SIGKILL)
    assert read_json(os.path.join(stopped, 'status'))['state'] == 'running'
    assert not os.path.exists(os.path.join(stopped, 'fault_runner', 'status'))
    assert len(outputs(stopped)) >= 1     # a job had finished before _3 started
    write_config(tmp, name='copy.ini', modules='copy_runner', extra=LINKED)
    result = run(['-c', 'copy.ini'], tmp, env)
    assert result.returncode == 2
    assert_one_line(result.stderr, 'last:fault_runner: its only run(s) did not complete')
    assert 'did not finish (the run was killed, or is still running)' in result.stderr
    assert f'shapepipe_run --resume {stopped}' in result.stderr.replace('./out', str(tmp / 'out'))


def test_reused_run_directory_does_not_pass_stale_outputs_off_as_new(fault_env):
    """RUN_DATETIME = False: a job that fails in the second run keeps the first
    run's complete output, but no later module takes it as new, in this run or
    through a link; --resume then rewrites it and it is used again."""
    tmp, env = fault_env
    write_config(tmp, modules='fault_runner, copy_runner', run_datetime=False)
    assert run(['-c', 'config.ini'], tmp, env).returncode == 0
    run_dir = str(tmp / 'out' / 'shapepipe_run')
    first = outputs(run_dir)
    write_config(tmp, modules='fault_runner, copy_runner', run_datetime=False, fault='raise',
                 fault_number='_3', extra=f'FAULT_IF = {tmp}/bad_input')
    (tmp / 'bad_input').write_text('')
    result = run(['-c', 'config.ini'], tmp, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert outputs(run_dir) == first                      # the old complete output is kept
    log = main_log(run_dir)
    assert '1 output(s) of an earlier run of fault_runner were not rewritten' in log
    assert '1 job(s) left out: their inputs are outputs of an earlier run' in log
    assert open(os.path.join(run_dir, 'copy_runner', 'jobs.txt')).read().count(' ok') == 5
    assert os.path.isfile(os.path.join(run_dir, 'copy_runner', 'stale.txt'))   # copy_3.txt
    # A later run linking to copy_runner leaves _3 out as well.
    write_config(tmp, name='link.ini', modules='copy_runner', output='./out2', extra=(
        f'[COPY_RUNNER]\nINPUT_DIR = {run_dir}/fault_runner/output'))
    linked = run(['-c', 'link.ini'], tmp, env)
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert sorted(outputs(run_dirs(tmp / 'out2')[-1], 'copy_runner')) == [
        f'copy_{n}.txt' for n in (1, 2, 4, 5, 6)]
    # The input mended, --resume reruns job _3 and the copy of it.
    os.remove(tmp / 'bad_input')
    result = run(['-c', 'config.ini', '--resume'], tmp, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(outputs(run_dir, 'copy_runner')) == N_FILES
    assert '1 job(s) left out' not in main_log(run_dir).split('resuming run')[-1]
