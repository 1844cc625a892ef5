"""Environment errors at start (one line, exit 2, no job) and a log that cannot be
written mid-run (one line, not a "--- Logging error ---" dump per message)."""

import errno
import logging
import os
import sqlite3
from collections import namedtuple

from shapepipe.pipeline import preflight as preflight_module
from shapepipe.pipeline.log_handlers import OneLineFileHandler

from .fault_helpers import (
    assert_one_error_line, files_under, main_log, read_only, run_main, sextractor_config,
    star_field, toy_config,
)


def test_unwritable_output_dir(tmp_path, capsys):
    output = tmp_path / 'output'
    output.mkdir()
    config = toy_config(tmp_path)
    with read_only(output):
        status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, f'cannot write in OUTPUT_DIR {str(output)!r}',
                          'set [FILE] OUTPUT_DIR to a writable directory')
    assert files_under(output) == []


def test_output_dir_that_cannot_be_created(tmp_path, capsys):
    parent = tmp_path / 'parent'
    parent.mkdir()
    config = toy_config(tmp_path, output_dir=str(parent / 'output'))
    with read_only(parent):
        status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'cannot create OUTPUT_DIR', 'parent/output')


def test_read_only_run_log(tmp_path, capsys):
    output = tmp_path / 'output'
    output.mkdir()
    run_log = output / 'shapepipe_runs.txt'
    run_log.write_text('')
    config = toy_config(tmp_path)
    with read_only(run_log):
        status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, f'cannot write the run log {run_log}',
                          'RUN_LOG_NAME')
    assert files_under(output) == ['shapepipe_runs.txt']


def test_run_log_that_is_a_directory(tmp_path, capsys):
    (tmp_path / 'output' / 'shapepipe_runs.txt').mkdir(parents=True)
    status, lines, _ = run_main(toy_config(tmp_path), capsys)
    assert_one_error_line(status, lines, 'cannot write the run log', 'Is a directory')


def test_full_disk_at_start(tmp_path, capsys, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(preflight_module.os, 'fsync', no_space)
    config = toy_config(tmp_path)
    status, lines, _ = run_main(config, capsys)
    assert_one_error_line(status, lines, 'cannot write in OUTPUT_DIR', 'the disk is full')
    assert files_under(tmp_path / 'output') == []   # the probe file is gone


def test_almost_full_disk_at_start(tmp_path, capsys, monkeypatch):
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(preflight_module.shutil, 'disk_usage',
                        lambda path: usage(10 << 30, (10 << 30) - (3 << 20), 3 << 20))
    status, lines, _ = run_main(toy_config(tmp_path), capsys)
    assert_one_error_line(status, lines, 'has only 3.0 MiB free', 'at least 16 MiB needed')


def test_log_write_errors_mid_run_are_one_line(tmp_path, capsys, monkeypatch):
    # Every log file (main log and process logs) sits on a full disk: /dev/full
    # fails every write with ENOSPC. The jobs' outputs are written elsewhere.
    monkeypatch.setattr(OneLineFileHandler, '_open', lambda self: open('/dev/full', 'a'))
    monkeypatch.setattr(OneLineFileHandler, 'reported', False)
    config = toy_config(tmp_path, job='SMP_BACKEND = threading')
    status, lines, out = run_main(config, capsys)
    assert status == 0
    assert len(lines) == 1 and 'Logging error' not in lines[0] and 'Traceback' not in lines[0]
    assert 'cannot write the log' in lines[0] and 'No space left on device' in lines[0]
    outputs = [f for f in files_under(tmp_path / 'output') if f.endswith('.cat')]
    assert len(outputs) == 2


def test_one_line_handler_reports_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(OneLineFileHandler, 'reported', False)
    handlers = [OneLineFileHandler('/dev/full') for _ in range(3)]
    logger = logging.Logger('fault-test')
    for handler in handlers:
        logger.addHandler(handler)
    for n in range(20):
        logger.info('message %d', n)
    for handler in handlers:
        handler.close()
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'cannot write the log /dev/full' in err


def test_spaces_in_input_and_output_dirs_and_links(tmp_path, capsys):
    """The run log, ``last:`` links and executables' arguments with spaces."""
    project = tmp_path / 'my project'
    project.mkdir()
    config = toy_config(project, module='python_example_runner, execute_example_runner',
                        output_dir=str(project / 'run output'))
    status, lines, _ = run_main(config, capsys)
    assert status == 0 and lines == []
    config2 = toy_config(
        project, module='execute_example_runner', output_dir=str(project / 'run output'),
        extra='[EXECUTE_EXAMPLE_RUNNER]\nINPUT_DIR = last:python_example_runner\n')
    status, lines, _ = run_main(config2, capsys)
    assert status == 0 and lines == []
    outputs = [f for f in files_under(project / 'run output')
               if f.endswith('.txt') and 'execute_example_runner/output' in f]
    assert len(outputs) == 4                         # two runs, two numbers each
    text = open(project / 'run output' / outputs[0]).read()
    assert text == 'value: 1 and a\n'


def test_locked_header_store_fails_the_job_in_one_line(tmp_path, capsys):
    """A header store locked by another process (a merge_headers still writing)."""
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=10)
    store = tmp_path / 'log_exp_headers.sqlite'
    writer = sqlite3.connect(store)
    writer.execute('CREATE TABLE unnamed (key TEXT PRIMARY KEY, value BLOB)')
    writer.commit()
    writer.execute('BEGIN EXCLUSIVE')
    output = tmp_path / 'out'
    config = sextractor_config(tmp_path, inputs, output,
                               sextractor_extra=f'MAKE_POST_PROCESS = True\nLOG_WCS = {store}')
    try:
        status, lines, _ = run_main(config, capsys)
    finally:
        writer.close()
    assert status == 1 and lines == []                 # no thread traceback on stderr
    errors = [line for line in main_log(output).splitlines() if 'ERROR' in line]
    assert len(errors) == 1
    assert f'{store}: cannot open the exposure header store (database is locked)' in errors[0]
    assert files_under(output / os.listdir(output)[0] / 'sextractor_runner' / 'output') == []
