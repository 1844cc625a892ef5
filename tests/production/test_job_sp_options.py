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
