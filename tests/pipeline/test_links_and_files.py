import os

import pytest

from shapepipe.errors import InputError
from shapepipe.pipeline.file_matching import find_pattern_files, pair_patterns, select_numbers
from shapepipe.pipeline.numbering import scheme_to_regex
from shapepipe.pipeline.run_log import Link, RunLog, parse_input_dir


def make_run(root, name, modules, runs=()):
    run_dir = root / name
    for module in modules:
        (run_dir / module / 'output').mkdir(parents=True)
    for module in runs:
        (run_dir / module / 'output').mkdir(parents=True)
    return str(run_dir)


def test_parse_input_dir(tmp_path):
    assert parse_input_dir('last:setools_runner') == Link('last', '', 'setools_runner')
    assert parse_input_dir('all:psfex_runner') == Link('all', '', 'psfex_runner')
    assert parse_input_dir('2020-03-05_10-00:mask_runner') == Link('pattern', '2020-03-05_10-00', 'mask_runner')
    assert parse_input_dir('./input_tiles') == Link('dir', './input_tiles')
    odd = tmp_path / 'last:mask_runner'
    odd.mkdir()
    assert parse_input_dir(str(odd)).kind == 'dir'   # an existing directory wins


def test_links_resolve_across_runs(tmp_path):
    log = RunLog(str(tmp_path / 'shapepipe_runs.txt'))
    first = make_run(tmp_path, 'run_1', ['split_exp_runner', 'mask_runner'])
    second = make_run(tmp_path, 'run_2', ['mask_runner'])
    third = make_run(tmp_path, 'run_3', [], runs=['setools_runner_run_1', 'setools_runner_run_2'])
    log.add_run(first, ['split_exp_runner', 'mask_runner'])
    log.add_run(second, ['mask_runner'])
    log.add_run(third, ['setools_runner', 'setools_runner'])
    assert log.resolve(parse_input_dir('last:mask_runner')) == [os.path.join(second, 'mask_runner', 'output')]
    assert log.resolve(parse_input_dir('last:split_exp_runner')) == [
        os.path.join(first, 'split_exp_runner', 'output')]
    assert log.resolve(parse_input_dir('all:mask_runner')) == [
        os.path.join(second, 'mask_runner', 'output'), os.path.join(first, 'mask_runner', 'output')]
    assert log.resolve(parse_input_dir('run_1:mask_runner')) == [
        os.path.join(first, 'mask_runner', 'output')]
    # Without _run_N, a module that ran twice gives its last run.
    assert log.resolve(parse_input_dir('last:setools_runner')) == [
        os.path.join(third, 'setools_runner_run_2', 'output')]
    assert log.resolve(parse_input_dir('last:setools_runner_run_1')) == [
        os.path.join(third, 'setools_runner_run_1', 'output')]
    with pytest.raises(InputError, match='last:psfex_runner: no run in .* has output of psfex_runner'):
        log.resolve(parse_input_dir('last:psfex_runner'))
    with pytest.raises(InputError, match='matches 2 runs'):
        log.resolve(parse_input_dir('run_:mask_runner'))


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('x')


def test_find_files_first_directory_with_hits_wins(tmp_path):
    for ccd in (0, 1, 10):
        touch(tmp_path / 'a' / 'sub' / f'image-2113737-{ccd}.fits')
        touch(tmp_path / 'b' / f'image-2113738-{ccd}.fits')
    touch(tmp_path / 'a' / 'image-2113737.fits')       # does not match the scheme
    regex = scheme_to_regex('-0000000-0')
    found = find_pattern_files([str(tmp_path / 'a'), str(tmp_path / 'b')], 'image', '.fits', regex)
    assert sorted(found.files) == ['-2113737-0', '-2113737-1', '-2113737-10']
    assert found.directory == str(tmp_path / 'a')
    assert found.files['-2113737-10'].endswith('sub/image-2113737-10.fits')


def test_correct_file_pattern_and_duplicates(tmp_path):
    touch(tmp_path / 'star_split_ratio_80-1-2.fits')
    touch(tmp_path / 'star_split_ratio_20-1-2.fits')
    regex = scheme_to_regex('-0-0')
    with pytest.raises(InputError, match='several files with number'):
        find_pattern_files([str(tmp_path)], 'star_split', '.fits', regex)
    found = find_pattern_files([str(tmp_path)], 'star_split_ratio_80', '.fits', regex)
    assert list(found.files) == ['-1-2']
    strict = find_pattern_files([str(tmp_path)], 'star_split', '.fits', regex, correct_pattern=False)
    assert strict.files == {}
    # An exact pattern+number+ext name wins over a longer one.
    touch(tmp_path / 'flag-1-2.fits')
    touch(tmp_path / 'pipeline_flag-1-2.fits')
    found = find_pattern_files([str(tmp_path)], 'flag', '.fits', regex)
    assert found.files['-1-2'].endswith('/flag-1-2.fits')


def test_intersection_and_number_list(tmp_path):
    for n in (1, 2, 4, 5):
        touch(tmp_path / f'numbers_{n}.txt')
    for n in (1, 2, 3, 4, 5):
        touch(tmp_path / f'letters_{n}.txt')
    regex = scheme_to_regex('_0')
    found = [find_pattern_files([str(tmp_path)], p, '.txt', regex) for p in ('numbers', 'letters')]
    numbers, dropped = select_numbers(found)
    assert numbers == ['_1', '_2', '_4', '_5'] and dropped == {'_3': ['numbers']}
    assert select_numbers(found, ['_2'])[0] == ['_2']
    with pytest.raises(InputError, match='numbers_3.txt'):
        select_numbers(found, ['_3'])


def test_pair_patterns():
    assert pair_patterns(['a', 'b'], ['txt']) == [('a', '.txt'), ('b', '.txt')]
    with pytest.raises(Exception, match='FILE_PATTERN has 2 entries but FILE_EXT has 3'):
        pair_patterns(['a', 'b'], ['.a', '.b', '.c'])
