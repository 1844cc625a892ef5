"""``shapepipe_run``: run the modules of a config file over their input files."""

import argparse
import logging
import os
import shutil
import sys
import time
from datetime import datetime

import shapepipe
from shapepipe.errors import ConfigError, InputError, ShapePipeError
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
from shapepipe.pipeline.job import FAILED, OK, SKIPPED
from shapepipe.pipeline.log_handlers import OneLineFileHandler
from shapepipe.pipeline.module_registry import available_runners, load_runner
from shapepipe.pipeline.preflight import preflight
from shapepipe.pipeline.plan import (
    ModuleProperties, build_jobs, input_directory_entries, plan_module_runs, resolve_input_dirs,
)
from shapepipe.pipeline.report import ModuleSummary, summary_table
from shapepipe.pipeline.run_log import RunLog, parse_input_dir

EXIT_OK, EXIT_JOBS_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130
CORE_PACKAGES = ('numpy', 'astropy', 'galsim', 'joblib', 'sqlitedict', 'mpi4py')


def parse_args(argv=None):
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
    parser.add_argument('--flow', action='store_true',
                        help='validate the config and print its data flow (inputs by role, '
                             'where they come from, outputs) without running it')
    return parser.parse_args(argv)


def list_modules():
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


def module_template(name):
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

    def __init__(self, config):
        self.config = config
        config.validate_pipeline_sections()
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
        self._check_inputs()
        check_pipeline(config, self.module_runs, self.props)
        preflight(self)
        self.log = None
        self.run_dir = None

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

    # Run directory and logs -------------------------------------------------
    def make_run_dir(self):
        """Create the run directory, its logs and the run-log line."""
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
        self.run_dir = run_dir
        self.log = self._main_logger(os.path.join(
            run_dir, 'logs', self.config.pipeline('FILE', 'LOG_NAME') + '.log'))
        shutil.copy(self.config.path, os.path.join(run_dir, 'logs'))
        self.run_log.add_run(run_dir, [run.runner for run in self.module_runs])
        if reuse:
            self.log.info('RUN_DATETIME = False: using run directory %s (outputs may be replaced)',
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
    def run(self, executor):
        """Run every module; return the exit status."""
        self.make_run_dir()
        self._log_start(executor)
        summaries = []
        status = EXIT_OK
        try:
            for run in self.module_runs:
                self._run_module(run, executor, summaries)
        except KeyboardInterrupt:
            self.log.error('interrupted (Ctrl-C): the run stops; finished outputs are kept')
            status = EXIT_INTERRUPTED
        errors = sum(s.failed + s.not_started for s in summaries)
        self.log.info('\n%s', summary_table(summaries))
        self.log.info('%d error(s); logs in %s', errors, self.run_dir)
        if status == EXIT_OK and errors:
            status = EXIT_JOBS_FAILED
        for handler in self.log.handlers:
            handler.close()
        return status

    def _run_module(self, run, executor, summaries):
        """Run one module's jobs; its summary is appended to ``summaries`` at once,
        so an interrupted module still shows what it finished."""
        props = self.props[run.name]
        where = self.config.where(run.section)
        module_dir = os.path.join(self.run_dir, run.name)
        run_dirs = {
            'run': self.run_dir, 'module': module_dir, 'output': os.path.join(module_dir, 'output'),
            'logs': os.path.join(module_dir, 'logs'), 'run_log': self.run_log.path,
            'output_root': self.output_root,
        }
        os.makedirs(run_dirs['output'], exist_ok=True)
        os.makedirs(run_dirs['logs'], exist_ok=True)
        summary = ModuleSummary(run.name)
        summaries.append(summary)
        start = time.monotonic()
        self.log.info('-- %s %s: batch size %s, timeout %s', run.name, run.info.version,
                      getattr(executor, 'n_jobs', executor.ranks),
                      f'{props.timeout:g} s' if props.timeout else 'none')
        try:
            entries = input_directory_entries(self.config, props, self.module_runs[:run.position])
            input_dirs = resolve_input_dirs(entries, self.run_dir, self.run_log, where)
            jobs, dropped, found = build_jobs(self.config, props, input_dirs, run_dirs, where)
        except ShapePipeError as error:
            self.log.error('ERROR %s could not start: %s', run.name, error)
            summary.not_started = 1
            summary.seconds = time.monotonic() - start
            return
        for pf in found:
            self.log.info('   input %s*%s: %d files in %s', pf.pattern, pf.ext, len(pf.files),
                          pf.directory)
        if dropped:
            self.log.info('   %d numbers lack some pattern and are left out (e.g. %s)',
                          len(dropped), next(iter(sorted(dropped))))
        self.log.info('   %d job(s)', len(jobs))
        summary.jobs = len(jobs)
        print_each = len(jobs) <= self.config.pipeline('WORKER', 'PROCESS_PRINT_LIMIT')
        bar = None
        if self.verbose and sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(total=len(jobs), desc=run.name, unit='job', leave=False)
        try:
            for result in executor.map(jobs, self.config):
                if bar is not None:
                    bar.update()
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
            summary.seconds = time.monotonic() - start


def _smp_executor(config):
    return SMPExecutor(config.pipeline('JOB', 'SMP_BATCH_SIZE'), config.pipeline('JOB', 'SMP_BACKEND'))


def _raw_mode(config):
    mode = config.get('EXECUTION', 'MODE', fallback='smp').strip().lower()
    return mode if mode in ('smp', 'mpi') else 'smp'


def run_from_config(path):
    """Run a config file; return the exit status (used by :func:`main`)."""
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
            executor.serve()
            return EXIT_OK
        try:
            return Pipeline(config).run(executor)
        except ShapePipeError as error:
            print(f'shapepipe_run: error: {error}', file=sys.stderr)
            return EXIT_SETUP
        finally:
            executor.close()
    size = mpi_world_size_from_env()
    if size > 1:
        if rank == 0:
            print(f'shapepipe_run: error: started by mpiexec with {size} processes but '
                  f'[EXECUTION] MODE is SMP: set MODE = MPI in {path}', file=sys.stderr)
        return EXIT_SETUP
    try:
        pipeline = Pipeline(config)
        return pipeline.run(_smp_executor(config))
    except ShapePipeError as error:
        print(f'shapepipe_run: error: {error}', file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print('shapepipe_run: interrupted (Ctrl-C)', file=sys.stderr)
        return EXIT_INTERRUPTED


def print_flow(path):
    """``shapepipe_run -c CONFIG --flow``: validate and print the data flow."""
    try:
        pipeline = Pipeline(load_config(path))
    except ShapePipeError as error:
        print(f'shapepipe_run: error: {error}', file=sys.stderr)
        return EXIT_SETUP
    print('\n'.join(data_flow(pipeline.module_runs, pipeline.props, pipeline.config)))
    return EXIT_OK


def main(argv=None):
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
    return run_from_config(args.config)


if __name__ == '__main__':
    sys.exit(main())
