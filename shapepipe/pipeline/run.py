"""``shapepipe_run``: run the modules of a config file over their input files."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

import shapepipe
from shapepipe.errors import ConfigError, ExecutorError, InputError, ShapePipeError
from shapepipe.pipeline.config import MODULE_COMMON_OPTIONS, load_config
from shapepipe.pipeline.connections import (
    check_pipeline, data_flow, describe_inputs, describe_outputs,
)
from shapepipe.pipeline.dependencies import (
    check_executables, check_python_packages, executable_version, python_package_version,
)
from shapepipe.pipeline.executors import (
    MPIExecutor, SMPExecutor, mpi_rank_from_env, mpi_world_size_from_env,
)
from shapepipe.pipeline.job import FAILED, INTERRUPTED, OK, SKIPPED, job_label
from shapepipe.pipeline.log_handlers import OneLineFileHandler
from shapepipe.pipeline.module_registry import available_runners, load_runner
from shapepipe.pipeline.preflight import preflight
from shapepipe.pipeline.plan import (
    ModuleProperties, build_jobs, input_directory_entries, plan_module_runs, resolve_input_dirs,
)
from shapepipe.pipeline.report import ModuleSummary, summary_table
from shapepipe.pipeline.run_log import RunLog, parse_input_dir
from shapepipe.pipeline.run_state import (
    COMPLETE, FINISHED, NOT_STARTED, RUNNING, JobLedger, output_snapshot, read_status,
    stale_inputs, write_stale_list, write_status,
)
from shapepipe.pipeline.run_state import INTERRUPTED as RUN_INTERRUPTED
from shapepipe.pipeline.signals import RunInterrupted, StopSignals, exit_status, received_signal

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from shapepipe.pipeline.config import ShapePipeConfig

EXIT_OK, EXIT_JOBS_FAILED, EXIT_SETUP, EXIT_ABORTED = 0, 1, 2, 3
CORE_PACKAGES = ('numpy', 'astropy', 'galsim', 'joblib', 'sqlitedict', 'mpi4py')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments of ``shapepipe_run``."""
    parser = argparse.ArgumentParser(
        prog='shapepipe_run',
        description='Run the shapepipe modules named in a config file.',
    )
    parser.add_argument('-v', '--version', action='version',
                        version=f'shapepipe {shapepipe.__version__}')
    parser.add_argument('-l', '--list_modules', action='store_true',
                        help='list the module runners and exit')
    parser.add_argument('-c', '--config', default='config.ini',
                        help='configuration file (default: config.ini)')
    parser.add_argument('--template', metavar='MODULE',
                        help='print a commented config section for a module and exit')
    parser.add_argument('--resume', nargs='?', const='last', metavar='RUN_DIR',
                        help='finish an interrupted or partly failed run in place: jobs '
                             'recorded done are skipped (default RUN_DIR: the newest run of '
                             'this config in the run log)')
    parser.add_argument('--flow', action='store_true',
                        help='validate the config and print its data flow (inputs by role, '
                             'where they come from, outputs) without running it')
    return parser.parse_args(argv)


def list_modules() -> list[str]:
    """Lines ``name  version  description`` for every runner."""
    lines = []
    for name in available_runners():
        try:
            info = load_runner(name).runner_info
            lines.append(f'{name:<28} {info.version:<8} {info.description}')
            if info.inputs:
                lines.append(f'{"":<28} in:  {", ".join(describe_inputs(info))}')
            if info.outputs:
                lines.append(f'{"":<28} out: {", ".join(describe_outputs(info))}')
        except Exception as error:  # a broken module must not hide the others
            lines.append(f'{name:<28} {"?":<8} cannot be imported: {error}')
    return lines


def module_template(name: str) -> str:
    """A commented config section for runner ``name``, from its declarations."""
    info = load_runner(name).runner_info
    lines = [f'# {name} {info.version}: {info.description}',
             f'# Defaults: input module {", ".join(info.input_module) or "none"}; '
             f'FILE_PATTERN = {", ".join(info.file_pattern)}; '
             f'FILE_EXT = {", ".join(info.file_ext)}; run method {info.run_method}',
             f'# Keys every module accepts: {", ".join(o.name for o in MODULE_COMMON_OPTIONS)}']
    if info.inputs:
        lines.append(f'# Inputs by role: {", ".join(describe_inputs(info))}')
    if info.outputs:
        lines.append(f'# Outputs: {", ".join(describe_outputs(info))}')
    lines.append(f'[{name.upper()}]')
    for option in info.options:
        lines.extend(option.template_lines())
    return '\n'.join(lines)


class Pipeline:
    """One ``shapepipe_run``: validation, the run directory and the module loop."""

    def __init__(self, config, resume=None):
        self.config = config
        config.validate_pipeline_sections()
        if resume is None:
            resume = resume_setting(config.pipeline('EXECUTION', 'RESUME'))
        self.verbose = config.pipeline('DEFAULT', 'VERBOSE')
        self.module_runs = plan_module_runs(config.pipeline('EXECUTION', 'MODULE'))
        self.props = {}
        self.versions = {}
        self.executables = {}
        for run in self.module_runs:
            run.info = load_runner(run.runner).runner_info
            if (not config.has_section(run.section) and run.name != run.runner
                    and config.has_section(run.runner.upper())):
                run.section = run.runner.upper()
            config.validate_module_section(run.section, run.info.options)
        for run in self.module_runs:
            props = ModuleProperties(config, run)
            self.props[run.name] = props
            self.versions.update(check_python_packages(props.depends, run.name))
            self.executables.update(check_executables(props.executes, run.name))
        self.output_root = config.pipeline('FILE', 'OUTPUT_DIR')
        self.run_log = RunLog(os.path.join(
            self.output_root, config.pipeline('FILE', 'RUN_LOG_NAME') + '.txt'))
        self.resume_dir = self._find_resume_dir(resume) if resume else None
        self._check_inputs()
        check_pipeline(config, self.module_runs, self.props)
        preflight(self)
        self.log = None
        self.run_dir = None
        self.interrupted = None   # the signal that stopped the run
        self.aborted = None       # why the job machinery failed (an MPI rank died)
        self._state_error_logged = False

    def _find_resume_dir(self, resume):
        """The run directory that ``--resume`` (or ``RESUME``) names, checked."""
        where = self.config.where('EXECUTION')
        if resume != 'last':
            path = resume.rstrip('/')
            if not os.path.isdir(path):
                raise ConfigError(f'--resume {resume}: no such run directory')
            return path
        if not self.config.pipeline('DEFAULT', 'RUN_DATETIME'):
            path = os.path.join(self.output_root, self.config.pipeline('DEFAULT', 'RUN_NAME'))
            if os.path.isdir(path):
                return path
        name = self.config.pipeline('DEFAULT', 'RUN_NAME')
        runners = [run.runner for run in self.module_runs]
        for run_dir, modules in reversed(self.run_log.runs()):
            path = self.run_log.run_dir_path(run_dir)
            if (modules == runners and os.path.basename(run_dir).startswith(name)
                    and os.path.isdir(path)):
                return path
        raise ConfigError(
            f'{where}--resume: no run of these modules named {name}* in {self.run_log.path}: '
            f'start the run without --resume, or give its run directory'
        )

    def _check_inputs(self):
        """Fail before any job on inputs that cannot exist when the module starts."""
        for run in self.module_runs:
            earlier = self.module_runs[:run.position]
            entries = input_directory_entries(self.config, self.props[run.name], earlier)
            for kind, value in entries:
                if kind != 'dir':
                    continue
                link = parse_input_dir(value)
                where = self.config.where(run.section)
                if link.kind == 'dir':
                    if run.position == 0 and not os.path.isdir(value):
                        resolve_input_dirs([(kind, value)], '', self.run_log, where)
                    continue
                base = link.module.split('_run_')[0]
                if any(r.runner == base for r in earlier):
                    continue
                self.run_log.resolve(link)
        self.run_log.notes.clear()   # logged when the module starts

    # Run directory and logs -------------------------------------------------
    def make_run_dir(self) -> None:
        """Create the run directory, its logs and the run-log line (or reopen
        the run directory that is resumed)."""
        if self.resume_dir:
            self.run_dir = self.resume_dir
            os.makedirs(os.path.join(self.run_dir, 'logs'), exist_ok=True)
            self.log = self._main_logger(os.path.join(
                self.run_dir, 'logs', self.config.pipeline('FILE', 'LOG_NAME') + '.log'))
            previous = read_status(self.run_dir) or {}
            self.log.info('resuming run %s (it was %s): jobs recorded ok or skipped are '
                          'not run again', self.run_dir, previous.get('state', 'without status'))
            self._state_error(write_status(self.run_dir, RUNNING, pid=os.getpid(), resumed=True),
                              os.path.join(self.run_dir, 'status'))
            return
        try:
            os.makedirs(self.output_root, exist_ok=True)
        except OSError as error:
            raise InputError(
                f'cannot create OUTPUT_DIR {self.output_root!r}: {error.strerror}'
            ) from None
        name = self.config.pipeline('DEFAULT', 'RUN_NAME')
        reuse = not self.config.pipeline('DEFAULT', 'RUN_DATETIME')
        if not reuse:
            name += datetime.now().strftime('_%Y-%m-%d_%H-%M-%S')
        run_dir = os.path.join(self.output_root, name)
        suffix = 1
        while not reuse:
            try:
                os.makedirs(run_dir)
                break
            except FileExistsError:  # two runs started in the same second
                suffix += 1
                run_dir = os.path.join(self.output_root, f'{name}_{suffix}')
        os.makedirs(os.path.join(run_dir, 'logs'), exist_ok=True)
        os.makedirs(os.path.join(run_dir, 'tmp'), exist_ok=True)  # ShapePipe's run_dirs['tmp']
        self.run_dir = run_dir
        self.log = self._main_logger(os.path.join(
            run_dir, 'logs', self.config.pipeline('FILE', 'LOG_NAME') + '.log'))
        shutil.copy(self.config.path, os.path.join(run_dir, 'logs'))
        self._state_error(write_status(run_dir, RUNNING, pid=os.getpid()),
                          os.path.join(run_dir, 'status'))
        self.run_log.add_run(run_dir, [run.runner for run in self.module_runs])
        if reuse:
            self.log.info('RUN_DATETIME = False: using run directory %s (outputs of an earlier '
                          'run that this run does not rewrite are kept but not used as inputs)',
                          run_dir)

    def _main_logger(self, path):
        logger = logging.Logger('shapepipe')
        handler = OneLineFileHandler(path)
        handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%Y-%m-%d %H:%M:%S'))
        logger.addHandler(handler)
        if self.verbose:
            console = logging.StreamHandler(sys.stdout)
            console.setFormatter(logging.Formatter('%(message)s'))
            logger.addHandler(console)
        return logger

    def _log_start(self, executor):
        log = self.log
        log.info('shapepipe %s: run %s', shapepipe.__version__, self.run_dir)
        log.info('config file: %s', self.config.path)
        log.info('python packages: %s', ', '.join(
            f'{name} {python_package_version(name) or "missing"}'
            for name in sorted(set(CORE_PACKAGES) | set(self.versions))))
        for name, path in self.executables.items():
            log.info('executable %s: %s (%s)', name, path, executable_version(path))
        for run in self.module_runs:
            log.info('module %s: version %s, section [%s]', run.name, run.info.version, run.section)
        log.info('mode %s, %d CPUs, %s', executor.mode.upper(), os.cpu_count(),
                 f'{executor.ranks} MPI ranks' if executor.mode == 'mpi' else
                 f'SMP_BATCH_SIZE {executor.n_jobs}, backend {executor.backend}')

    # Module loop ------------------------------------------------------------
    def run(self, executor: SMPExecutor | MPIExecutor) -> int:
        """Run every module; return the exit status.

        SIGINT, SIGTERM and SIGHUP stop the run (workers included), write the
        summary and the status files, and give the exit status 128 + signal.
        """
        with StopSignals():
            return self._run_all(executor)

    def _run_all(self, executor):
        summaries = []
        status = EXIT_OK
        try:
            self.make_run_dir()
            self._log_start(executor)
            for run in self.module_runs:
                self._run_module(run, executor, summaries)
                if received_signal():
                    raise RunInterrupted(received_signal())
        except KeyboardInterrupt as stop:
            StopSignals.ignore_more()
            executor.stop()
            signum = getattr(stop, 'signum', None) or received_signal() or 2
            self.interrupted = signum
            status = exit_status(signum)
            if self.log is None:
                raise
            self.log.error('interrupted (%s): the run stops; finished outputs are kept; '
                           'finish it with: shapepipe_run -c %s --resume %s',
                           _signal_name(signum), self.config.path, os.path.abspath(self.run_dir))
        except ExecutorError as error:
            self.aborted = str(error)
            status = EXIT_ABORTED
            self.log.error('ERROR %s: the run is aborted', error)
        errors = sum(s.failed + s.not_started + s.unfinished for s in summaries)
        resumed = sum(s.resumed for s in summaries)
        self.log.info('\n%s', summary_table(summaries))
        self.log.info('%d error(s)%s; logs in %s', errors,
                      f', {resumed} job(s) done before and skipped (--resume)' if resumed else '',
                      self.run_dir)
        if status == EXIT_OK and errors:
            status = EXIT_JOBS_FAILED
        self._state_error(write_status(
            self.run_dir, RUN_INTERRUPTED if self.interrupted or self.aborted else FINISHED,
            exit=status, errors=errors, pid=os.getpid()), os.path.join(self.run_dir, 'status'))
        for handler in self.log.handlers:
            handler.close()
        return status

    def _run_module(self, run, executor, summaries):
        """Run one module's jobs; its summary is appended to ``summaries`` at once,
        so an interrupted module still shows what it finished."""
        props = self.props[run.name]
        module_dir = os.path.join(self.run_dir, run.name)
        run_dirs = {
            'run': self.run_dir, 'module': module_dir, 'output': os.path.join(module_dir, 'output'),
            'logs': os.path.join(module_dir, 'logs'), 'run_log': self.run_log.path,
            'output_root': self.output_root, 'tmp': os.path.join(self.run_dir, 'tmp'),
            'log': os.path.join(self.run_dir, 'logs'),
        }
        summary = ModuleSummary(run.name)
        summaries.append(summary)
        start = time.monotonic()
        self.log.info('-- %s %s: batch size %s, timeout %s', run.name, run.info.version,
                      getattr(executor, 'n_jobs', executor.ranks),
                      f'{props.timeout:g} s' if props.timeout else 'none')
        # RUN_DATETIME = False: an earlier run's outputs must not pass for new ones.
        snapshot = (output_snapshot(run_dirs['output'])
                    if self.resume_dir is None and os.path.isdir(module_dir) else None)
        if snapshot is not None and os.path.exists(os.path.join(module_dir, 'jobs.txt')):
            os.remove(os.path.join(module_dir, 'jobs.txt'))   # a new run of the module
        os.makedirs(run_dirs['output'], exist_ok=True)
        os.makedirs(run_dirs['logs'], exist_ok=True)
        ledger = JobLedger(module_dir)
        try:
            self._run_jobs(run, executor, summary, run_dirs, ledger)
        finally:
            ledger.close()
            self._state_error(ledger.error, ledger.path)
            if snapshot:
                try:
                    stale = write_stale_list(module_dir, snapshot)
                except OSError as error:
                    self._state_error(error, os.path.join(module_dir, 'stale.txt'))
                    stale = 0
                if stale:
                    self.log.info('   %d output(s) of an earlier run of %s were not rewritten: '
                                  'kept, listed in %s/stale.txt, not used as inputs', stale,
                                  run.name, module_dir)
            summary.seconds = time.monotonic() - start
            state = (NOT_STARTED if summary.not_started else
                     RUN_INTERRUPTED if received_signal() or summary.unfinished else COMPLETE)
            self._state_error(write_status(
                module_dir, state, jobs=summary.jobs, ok=summary.ok, failed=summary.failed,
                skipped=summary.skipped, resumed=summary.resumed, unfinished=summary.unfinished,
                seconds=round(summary.seconds, 3)), os.path.join(module_dir, 'status'))

    def _state_error(self, error, path):
        """Log (once a run) that a run-state file could not be written."""
        if error is None or self._state_error_logged:
            return
        self._state_error_logged = True
        self.log.error('cannot write %s: %s (the run state on disk is behind: --resume '
                       'reruns the jobs it does not record)', path,
                       getattr(error, 'strerror', None) or error)

    def _run_jobs(self, run, executor, summary, run_dirs, ledger):
        """Find a module's jobs, skip those done before (--resume), run the others."""
        props = self.props[run.name]
        where = self.config.where(run.section)
        try:
            entries = input_directory_entries(self.config, props, self.module_runs[:run.position])
            input_dirs = resolve_input_dirs(entries, self.run_dir, self.run_log, where)
            jobs, dropped, found = build_jobs(self.config, props, input_dirs, run_dirs, where)
        except ShapePipeError as error:
            self._log_notes()
            self.log.error('ERROR %s could not start: %s', run.name, error)
            summary.not_started = 1
            return
        self._log_notes()
        for pf in found:
            self.log.info('   input %s*%s: %d files in %s', pf.pattern, pf.ext, len(pf.files),
                          pf.directory)
        if dropped:
            self.log.info('   %d numbers lack some pattern and are left out (e.g. %s)',
                          len(dropped), next(iter(sorted(dropped))))
        jobs = self._drop_stale_inputs(jobs, input_dirs, props)
        summary.jobs = len(jobs)
        if self.resume_dir:
            done = ledger.done()
            todo = [job for job in jobs if job_label(job.number) not in done]
            summary.resumed = len(jobs) - len(todo)
            self.log.info('   %d job(s): %d done before (skipped), %d to run', len(jobs),
                          summary.resumed, len(todo))
            jobs = todo
        else:
            self.log.info('   %d job(s)', len(jobs))
        print_each = len(jobs) <= self.config.pipeline('WORKER', 'PROCESS_PRINT_LIMIT')
        bar = None
        if self.verbose and sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(total=len(jobs), desc=run.name, unit='job', leave=False)
        try:
            for result in executor.map(jobs, self.config):
                if bar is not None:
                    bar.update()
                if result.status == INTERRUPTED:
                    self.log.error('   job %s: %s', job_label(result.number), result.message)
                    continue
                ledger.record(job_label(result.number), result.status)
                if result.status == OK:
                    summary.ok += 1
                elif result.status == SKIPPED:
                    summary.skipped += 1
                else:
                    summary.failed += 1
                if result.status == FAILED:
                    self.log.error('ERROR %s job %s: %s (log: %s)', run.name,
                                   result.number or '(serial)', result.message, result.log_path)
                elif print_each:
                    self.log.info('   job %s: %s in %.2f s', result.number or '(serial)',
                                  result.status, result.seconds)
        finally:
            if bar is not None:
                bar.close()

    def _drop_stale_inputs(self, jobs, input_dirs, props):
        """Leave out the inputs that are outputs of an earlier run which the last
        run of their module did not rewrite (``stale.txt``, RUN_DATETIME = False)."""
        stale = stale_inputs(input_dirs)
        if not stale:
            return jobs
        if props.run_method == 'serial':
            for job in jobs:
                job.files = [[f for f in files if os.path.realpath(f) not in stale]
                             for files in job.files]
            return jobs
        kept = [job for job in jobs
                if not any(os.path.realpath(f) in stale for f in job.files)]
        if len(kept) < len(jobs):
            self.log.info('   %d job(s) left out: their inputs are outputs of an earlier run '
                          'that this run did not rewrite (stale.txt)', len(jobs) - len(kept))
        return kept

    def _log_notes(self):
        """Log what the run log's links passed over (incomplete module runs)."""
        for note in self.run_log.notes:
            self.log.warning('   %s', note)
        self.run_log.notes.clear()


def _signal_name(signum):
    return 'Ctrl-C' if signum == signal.SIGINT else signal.Signals(signum).name


def resume_setting(value: str | None) -> str | None:
    """``[EXECUTION] RESUME``: '' or False -> None, True/last -> 'last', else a run directory."""
    text = (value or '').strip()
    if text.lower() in ('', 'false', 'no', 'off', '0'):
        return None
    if text.lower() in ('true', 'yes', 'on', '1', 'last'):
        return 'last'
    return text


def _smp_executor(config):
    return SMPExecutor(config.pipeline('JOB', 'SMP_BATCH_SIZE'), config.pipeline('JOB', 'SMP_BACKEND'))


def _raw_mode(config):
    mode = config.get('EXECUTION', 'MODE', fallback='smp').strip().lower()
    return mode if mode in ('smp', 'mpi') else 'smp'


def _report_stop(pipeline):
    """One stderr line after a run stopped by a signal or aborted."""
    if pipeline.aborted:
        print(f'shapepipe_run: error: {pipeline.aborted}; the run is aborted', file=sys.stderr)
    elif pipeline.interrupted:
        print(f'shapepipe_run: interrupted ({_signal_name(pipeline.interrupted)}); finished '
              f'outputs are kept; finish the run with: shapepipe_run -c {pipeline.config.path} '
              f'--resume {os.path.abspath(pipeline.run_dir)}', file=sys.stderr)


def run_from_config(path: str, resume: str | None = None) -> int:
    """Run a config file; return the exit status (used by :func:`main`).

    ``resume``: a run directory to finish in place, ``'last'`` for the newest
    run of this config, or None (the config's ``[EXECUTION] RESUME``).
    """
    rank = mpi_rank_from_env()
    try:
        config = load_config(path)
    except ShapePipeError as error:
        if rank == 0:
            print(f'shapepipe_run: error: {error}', file=sys.stderr)
        return EXIT_SETUP
    if _raw_mode(config) == 'mpi':
        try:
            executor = MPIExecutor()
        except ShapePipeError as error:
            print(f'shapepipe_run: error: {error}', file=sys.stderr)
            return EXIT_SETUP
        if executor.rank != 0:
            return executor.serve()
        return _drive(config, resume, executor=executor)
    size = mpi_world_size_from_env()
    if size > 1:
        if rank == 0:
            print(f'shapepipe_run: error: started by mpiexec with {size} processes but '
                  f'[EXECUTION] MODE is SMP: set MODE = MPI in {path}', file=sys.stderr)
        return EXIT_SETUP
    return _drive(config, resume, make_executor=lambda: _smp_executor(config))


def _drive(config: ShapePipeConfig, resume: str | None,
           executor: MPIExecutor | SMPExecutor | None = None,
           make_executor: Callable[[], SMPExecutor] | None = None) -> int:
    """Validate and run the pipeline on ``executor`` (or on the one
    ``make_executor`` gives once the config is valid, so that a config error
    starts no worker); set-up errors and stop signals end in one line on
    stderr. The executor is always closed; MPI ranks are aborted when the run
    was (see :meth:`MPIExecutor.close`)."""
    status = EXIT_SETUP
    try:
        pipeline = Pipeline(config, resume)
        if executor is None:
            executor = make_executor()
        status = pipeline.run(executor)
        _report_stop(pipeline)
    except ShapePipeError as error:
        print(f'shapepipe_run: error: {error}', file=sys.stderr)
        status = EXIT_SETUP
    except KeyboardInterrupt as stop:
        signum = getattr(stop, 'signum', signal.SIGINT)
        print(f'shapepipe_run: interrupted ({_signal_name(signum)})', file=sys.stderr)
        status = exit_status(signum)
    finally:
        if isinstance(executor, MPIExecutor):
            executor.close(abort=status if status >= EXIT_ABORTED else None)
        elif executor is not None:
            executor.close()
    return status


def print_flow(path: str) -> int:
    """``shapepipe_run -c CONFIG --flow``: validate and print the data flow."""
    try:
        pipeline = Pipeline(load_config(path), resume=False)
    except ShapePipeError as error:
        print(f'shapepipe_run: error: {error}', file=sys.stderr)
        return EXIT_SETUP
    print('\n'.join(data_flow(pipeline.module_runs, pipeline.props, pipeline.config)))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``shapepipe_run``."""
    args = parse_args(argv)
    if args.list_modules:
        print('\n'.join(list_modules()))
        return EXIT_OK
    if args.template:
        try:
            print(module_template(args.template))
        except ConfigError as error:
            print(f'shapepipe_run: error: {error}', file=sys.stderr)
            return EXIT_SETUP
        return EXIT_OK
    if args.flow:
        return print_flow(args.config)
    status = run_from_config(args.config, args.resume)
    if status >= 128 and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                             if t is not threading.main_thread()):
        # Jobs of the threading backend cannot be stopped: do not wait for them.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == '__main__':
    sys.exit(main())
