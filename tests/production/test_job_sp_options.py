"""job_sp's options, ID ranges and one-line errors (no pipeline run)."""

import pytest

from shapepipe.commands import job_sp
from shapepipe.commands.job_sp import id_ranges, main, parse_args, set_key


def test_id_ranges_as_job_sp_bash():
    assert id_ranges(100, 4) == [(1, 0, 24), (2, 25, 49), (3, 50, 74), (4, 75, -1)]
    assert id_ranges(100, 2, nsh_step=30) == [(1, 0, 29), (2, 30, -1)]
    # --nsh_max caps every range and precedes --nsh_step (objects beyond are left out)
    assert id_ranges(100, 3, nsh_step=50, nsh_max=10) == [(1, 0, 9), (2, 10, 19), (3, 20, 29)]
    assert id_ranges(1, 2) == [(1, 0, 0), (2, 1, -1)]


def test_defaults_are_offline():
    args = parse_args(['277.282', '278.282'])
    assert args.job == 127 and args.retrieve == 'symlink' and args.star_cat_for_mask == 'save'
    assert args.psf == 'psfex' and args.tiles == ['277.282', '278.282']


def test_set_key():
    assert set_key('[JOB]\nSMP_BATCH_SIZE = 16\n', 'SMP_BATCH_SIZE', 2) == '[JOB]\nSMP_BATCH_SIZE = 2\n'


@pytest.mark.parametrize('options, what', [
    (['-r', 'vos'], '-r vos'),
    (['-s', 'onthefly', '-j', '4'], '-s onthefly'),
    (['-j', '255', '--star_cat_from', 'x.fits'], 'upload'),
])
def test_online_options_fail_in_one_line_offline(options, what, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(job_sp, 'network_available', lambda *a, **k: False)
    monkeypatch.chdir(tmp_path)
    assert main(options + ['277.282']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and what in err and 'network' in err
    assert not (tmp_path / 'output').exists()      # nothing started


def test_bad_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(['-j', '3', '277_x'])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(['-p', 'other', '277.282'])


def test_resume_skips_finished_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(job_sp, 'network_available', lambda *a, **k: True)
    calls = []
    for name in ('retrieve', 'prepare', 'mask'):
        monkeypatch.setattr(job_sp.JobSp, f'step_{name}',
                            lambda self, name=name: calls.append(name))
    args = parse_args(['-j', '7', '--star_cat_from', 'x.fits', '277.282', '278.282'])
    first = job_sp.JobSp(args, run_dir=tmp_path, log=lambda line: None)
    first.step_mask = lambda: (_ for _ in ()).throw(job_sp.JobSpError('mask failed'))
    with pytest.raises(job_sp.JobSpError):
        first.run()                                    # killed in step 4
    assert calls == ['retrieve', 'prepare']
    assert first.finished_steps() == {1, 2}
    calls.clear()
    resumed = job_sp.JobSp(parse_args(['-j', '7', '--resume', '--star_cat_from', 'x.fits',
                                       '278.282', '277.282']), run_dir=tmp_path,
                           log=lambda line: None)
    assert resumed.run() == 0 and calls == ['mask']   # restarts where it stopped
    other = job_sp.JobSp(parse_args(['-j', '7', '--resume', '--star_cat_from', 'x.fits',
                                     '277.282']), run_dir=tmp_path, log=lambda line: None)
    assert other.finished_steps() == set()            # other tiles: nothing finished


@pytest.mark.parametrize('cores, tiles, n_obj, ranges, batch', [
    (2, 1, 30, 1, 1),        # a small tile is not split: one start-up
    (2, 1, 5000, 2, 1),      # a large tile alone: one range per core
    (2, 4, 5000, 1, 2),      # tiles enough for the cores: no split, two tiles at once
    (8, 2, 5000, 4, 2),      # 8 cores, 2 tiles: 4 ranges of 2 tiles at once
    (8, 2, 500, 2, 2),       # ... but no range under MIN_RANGE_OBJECTS objects
])
def test_shape_split_follows_cores_tiles_and_objects(cores, tiles, n_obj, ranges, batch,
                                                     monkeypatch):
    monkeypatch.setattr(job_sp.os, 'cpu_count', lambda: cores)
    ids = ['277.282', '278.282', '279.282', '280.282'][:tiles]
    plan, smp, ranks = job_sp.JobSp(parse_args(ids)).shape_plan(n_obj)
    assert len(plan) == ranges and smp == batch
    assert plan[0][1] == 0 and plan[-1][2] == -1          # every object measured
    # ShapePipe's options keep ShapePipe's meaning: --nsh_jobs ranges, the template's batch
    plan, smp, _ = job_sp.JobSp(parse_args(['--nsh_jobs', '3'] + ids)).shape_plan(n_obj)
    assert len(plan) == 3 and smp is None
    # under --mpi the ranks are the cores, shared by the ranges
    plan, smp, ranks = job_sp.JobSp(parse_args(['--mpi', '4', '277.282'])).shape_plan(5000)
    assert len(plan) == 4 and ranks == 1


def test_mpi_sets_the_execution_mode_only():
    text = '[EXECUTION]\nMODULE = a_runner\nMODE = SMP\n\n[A_RUNNER]\nMODE = MULTI-EPOCH\n'
    assert job_sp.set_execution_mode(text, 'MPI') == text.replace('MODE = SMP', 'MODE = MPI')
    args = parse_args(['--mpi', '2', '--mpiexec', 'mpiexec -f hosts', '277.282'])
    command = job_sp.JobSp(args).launch('c.ini')
    assert command[:4] == ['mpiexec', '-f', 'hosts', '-n'] and command[4] == '2'
    assert command[-2:] == ['-c', 'c.ini']
