"""What each module run of a pipeline reads: names, sections, properties,
input directories and the resulting job list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
import os
from collections import Counter
from dataclasses import dataclass

from shapepipe.errors import ConfigError, InputError
from shapepipe.pipeline.config import parse_timeout
from shapepipe.pipeline.connections import InputFiles, check_missing_roles
from shapepipe.pipeline.file_matching import (
    find_pattern_files, pair_patterns, read_number_list, select_numbers,
)
from shapepipe.pipeline.numbering import DEFAULT_SCHEME, scheme_to_regex
from shapepipe.pipeline.run_log import parse_input_dir, split_run_name

if TYPE_CHECKING:
    from shapepipe.pipeline.config import ShapePipeConfig
    from shapepipe.pipeline.file_matching import PatternFiles
    from shapepipe.pipeline.run_log import RunLog


@dataclass
class ModuleRun:
    """One entry of ``[EXECUTION] MODULE``."""

    name: str          # run name: setools_runner or setools_runner_run_2
    runner: str        # module name: setools_runner
    section: str       # config section: SETOOLS_RUNNER or SETOOLS_RUNNER_RUN_2
    position: int
    info: object = None  # RunnerInfo, set once the runner is loaded


@dataclass
class Job:
    """One call of a runner: its files and number."""

    module_run: str
    runner: str
    section: str
    number: str
    files: list
    run_dirs: dict
    timeout: float = None


def plan_module_runs(module_list: Sequence[str]) -> list[ModuleRun]:
    """Run names and config sections, with ``_run_N`` for repeated modules."""
    counts = Counter(module_list)
    seen = Counter()
    runs = []
    for position, name in enumerate(module_list):
        seen[name] += 1
        run_name = f'{name}_run_{seen[name]}' if counts[name] > 1 else name
        runs.append(ModuleRun(run_name, name, run_name.upper(), position))
    return runs


class ModuleProperties:
    """A module run's properties from the hierarchy: module section, then
    ``[FILE]``, then the runner's declaration."""

    def __init__(self, config, module_run):
        self.config = config
        self.run = module_run
        self.options = config.module_options(module_run.section)
        info = module_run.info
        where = config.where(module_run.section)
        self.input_module = self._list('INPUT_MODULE', info.input_module, use_file=False)
        patterns = self._list('FILE_PATTERN', info.file_pattern)
        exts = self._list('FILE_EXT', info.file_ext) or ['']
        self.patterns = pair_patterns(patterns, exts, where) if patterns else []
        scheme = self.options['NUMBERING_SCHEME']
        if scheme is None:
            scheme = config.pipeline('FILE', 'NUMBERING_SCHEME')
        if scheme is None:
            scheme = info.numbering_scheme
        self.numbering_scheme = DEFAULT_SCHEME if scheme is None else scheme
        self.number_regex = scheme_to_regex(self.numbering_scheme)
        self.run_method = self.options['RUN_METHOD'] or info.run_method
        self.depends = self._list('DEPENDS', info.depends, use_file=False)
        executes = self._list('EXECUTES', info.executes, use_file=False)
        if config.has_option(module_run.section, 'EXEC_PATH') and executes:
            executes = [config.getexpanded(module_run.section, 'EXEC_PATH')] + executes[1:]
        self.executes = executes
        timeout = self.options['TIMEOUT'] or config.pipeline('JOB', 'TIMEOUT')
        self.timeout = parse_timeout(timeout, where)
        self.number_list = self.options['NUMBER_LIST'] or config.pipeline('FILE', 'NUMBER_LIST')

    def _list(self, key, default, use_file=True):
        value = self.options.get(key)
        if value is None and use_file and key in ('FILE_PATTERN', 'FILE_EXT'):
            value = self.config.pipeline('FILE', key)
        if value is None:
            value = list(default)
        added = self.options.get('ADD_' + key)
        return list(value) + list(added or [])


def input_directory_entries(config: ShapePipeConfig, props: ModuleProperties,
                            previous_runs: Sequence[ModuleRun]) -> list[tuple[str, str]]:
    """The unresolved input entries of a module run.

    Each entry is ``('dir', text)`` for a path or link, or ``('module', run
    name)`` for the output of an earlier run in this pipeline.
    """
    run = props.run
    options = props.options
    if options['INPUT_DIR']:
        entries = [('dir', d) for d in options['INPUT_DIR']]
    elif run.position == 0 and not options['INPUT_MODULE'] or not props.input_module:
        entries = [('dir', d) for d in config.pipeline('FILE', 'INPUT_DIR')]
    else:
        entries = []
        for name in props.input_module:
            earlier = _earlier_run(name, previous_runs)
            entries.append(('module', earlier) if earlier else ('dir', f'last:{name}'))
    entries += [('dir', d) for d in options['ADD_INPUT_DIR'] or []]
    return entries


def _earlier_run(name, previous_runs):
    """The run of ``name`` earlier in this pipeline (the latest without _run_N)."""
    base, number = split_run_name(name)
    matches = [r for r in previous_runs if r.name == name]
    if not matches and number is None:
        matches = [r for r in previous_runs if r.runner == base]
    if not matches and number == 1:
        matches = [r for r in previous_runs if r.name == base]
    return matches[-1].name if matches else None


def resolve_input_dirs(entries: Iterable[tuple[str, str]], run_dir: str, run_log: RunLog,
                       where: str = '') -> list[str]:
    """Turn input entries into existing directories.

    Raises
    ------
    InputError
        A directory does not exist or a link cannot be resolved.
    """
    dirs = []
    for kind, value in entries:
        if kind == 'module':
            dirs.append(os.path.join(run_dir, value, 'output'))
            continue
        link = parse_input_dir(value)
        if link.kind != 'dir':
            dirs.extend(run_log.resolve(link))
            continue
        path = value
        if not os.path.isdir(path):
            unset = ' (is the variable set? e.g. export SP_RUN=$PWD)' if '$' in path else ''
            raise InputError(f'{where}input directory {path!r} does not exist{unset}', path=path)
        dirs.append(path)
    return dirs


def build_jobs(config: ShapePipeConfig, props: ModuleProperties, input_dirs: Sequence[str],
               run_dirs: dict[str, str], where: str = '',
               ) -> tuple[list[Job], dict[str, list[str]], list[PatternFiles]]:
    """The jobs of a module run.

    Raises
    ------
    InputError
        No file matches a pattern, or numbers are missing or ambiguous.
    """
    if not props.patterns:
        raise ConfigError(f'{where}no FILE_PATTERN declared or configured')
    correct = config.pipeline('FILE', 'CORRECT_FILE_PATTERN')
    found = []
    for pattern, ext in props.patterns:
        pf = find_pattern_files(input_dirs, pattern, ext, props.number_regex, correct)
        if not pf.files:
            raise InputError(
                f'{where}no file matches pattern {pattern!r}, extension {ext!r} and numbering '
                f'{props.numbering_scheme!r} in {", ".join(input_dirs) or "(no directory)"}'
            )
        found.append(pf)
    number_list = read_number_list(props.number_list) if props.number_list else None
    numbers, dropped = select_numbers(found, number_list)
    if not numbers:
        raise InputError(
            f'{where}no file number is common to all patterns '
            f'({", ".join(p for p, _ in props.patterns)}) in {", ".join(input_dirs)}'
        )
    base = dict(module_run=props.run.name, runner=props.run.runner, section=props.run.section,
                run_dirs=run_dirs, timeout=props.timeout)
    roles = check_missing_roles(props.run.info, props.patterns, props.options, where) if (
        props.run.info) else []
    if props.run_method == 'serial':
        files = InputFiles([[pf.files[n] for n in numbers] for pf in found], roles)
        return [Job(number='', files=files, **base)], dropped, found
    jobs = [Job(number=n, files=InputFiles([pf.files[n] for pf in found], roles), **base)
            for n in numbers]
    return jobs, dropped, found
