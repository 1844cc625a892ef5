"""Reading and validating ShapePipe ``.ini`` configuration files.

The format is ShapePipe's: standard INI with ``$VAR`` expansion, comma lists
that may continue over several lines, one section per module (``[NAME_RUNNER]``,
or ``[NAME_RUNNER_RUN_N]`` when a module runs more than once). Every key of the
pipeline sections is declared here once; module keys are declared by the
runners. :func:`load_config` only parses; :meth:`ShapePipeConfig.validate`
checks everything against the declarations before any job starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
import configparser
import math
import os
import re

from shapepipe.errors import ConfigError
from shapepipe.pipeline.options import REQUIRED, Option, expand, read_options, split_list, suggest

if TYPE_CHECKING:
    from shapepipe.pipeline.plan import ModuleRun

PIPELINE_OPTIONS = {
    'DEFAULT': (
        Option('VERBOSE', 'bool', True, 'Print the main log and progress bars to the console'),
        Option('RUN_NAME', 'str', 'shapepipe_run', 'Base name of the run directory'),
        Option('RUN_DATETIME', 'bool', True, 'Append _YYYY-MM-DD_HH-MM-SS to the run directory name'),
    ),
    'EXECUTION': (
        Option('MODULE', 'list', REQUIRED, 'Module runners to run, in order'),
        Option('MODE', 'str', 'smp', 'smp: joblib on one machine; mpi: MPI over mpiexec ranks',
               choices=('smp', 'mpi')),
        Option('SEED', 'int', 0, 'Run seed: random generators are seeded from it and the file number'),
        Option('RESUME', 'str', '',
               'Finish a run in place (as --resume): True for the newest run of this config, '
               'or a run directory; jobs recorded done are skipped'),
    ),
    'FILE': (
        Option('LOG_NAME', 'str', 'shapepipe', 'Name of the main log file (in <run>/logs/)'),
        Option('RUN_LOG_NAME', 'str', 'shapepipe_runs', 'Name of the run log in OUTPUT_DIR (.txt added)'),
        Option('INPUT_DIR', 'list', REQUIRED,
               'Input directories or links (last:MODULE, all:MODULE, PATTERN:MODULE)'),
        Option('OUTPUT_DIR', 'str', REQUIRED, 'Directory that receives the run directories'),
        Option('FILE_PATTERN', 'list', None, 'Input file patterns (overrides the runners\' defaults)'),
        Option('FILE_EXT', 'list', None, 'Input file extensions, one or one per pattern'),
        Option('NUMBERING_SCHEME', 'str', None,
               'File numbering: RE:<regex> or an example such as -0000000-0 (default RE:\\_\\d+)'),
        Option('NUMBER_LIST', 'list', None, 'File numbers to process: a file (one a line) or a list'),
        Option('CORRECT_FILE_PATTERN', 'bool', True,
               'Let a pattern match a longer name (star_split -> star_split_ratio_80)'),
        Option('ALLOW_PICKLE', 'bool', False,
               'Read pickled stores and headers*.npy made by ShapePipe (numpy arrays and WCS '
               'only; see docs/formats.md)'),
    ),
    'JOB': (
        Option('SMP_BATCH_SIZE', 'int', 1, 'Number of jobs run in parallel (SMP mode)'),
        Option('SMP_BACKEND', 'str', 'loky', 'joblib backend',
               choices=('loky', 'multiprocessing', 'threading')),
        Option('TIMEOUT', 'str', None,
               'Time limit per job, HH:MM:SS or seconds, at most 30 days (none if empty)'),
    ),
    'WORKER': (
        Option('PROCESS_PRINT_LIMIT', 'int', 200,
               'Print one console line per job only for modules with at most this many jobs'),
    ),
}

# Keys every module section accepts; the pipeline handles them.
MODULE_COMMON_OPTIONS = (
    Option('INPUT_DIR', 'list', None, 'Input directories or links, replacing the default inputs'),
    Option('ADD_INPUT_DIR', 'list', None, 'Input directories or links added to the inputs'),
    Option('INPUT_MODULE', 'list', None, 'Module(s) whose output is the input'),
    Option('ADD_INPUT_MODULE', 'list', None, 'Module(s) added to the input modules'),
    Option('FILE_PATTERN', 'list', None, 'Input file patterns'),
    Option('ADD_FILE_PATTERN', 'list', None, 'Input file patterns added to the defaults'),
    Option('FILE_EXT', 'list', None, 'Input file extensions'),
    Option('ADD_FILE_EXT', 'list', None, 'Input file extensions added to the defaults'),
    Option('NUMBERING_SCHEME', 'str', None, 'File numbering scheme of this module'),
    Option('NUMBER_LIST', 'list', None, 'File numbers to process (a file or a list)'),
    Option('DEPENDS', 'list', None, 'Python packages the module needs'),
    Option('ADD_DEPENDS', 'list', None, 'Python packages added to the dependencies'),
    Option('EXECUTES', 'list', None, 'Executables the module runs'),
    Option('ADD_EXECUTES', 'list', None, 'Executables added to those checked'),
    Option('RUN_METHOD', 'str', None, 'parallel or serial', choices=('parallel', 'serial')),
    Option('TIMEOUT', 'str', None, 'Time limit per job for this module'),
)


class ShapePipeConfig(configparser.ConfigParser):
    """A parsed ShapePipe config: ConfigParser plus ShapePipe's accessors.

    Keys are case-insensitive (stored upper case); section names are upper case.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.path = path
        self.run_seed = 0
        self._module_options = {}
        self._pipeline_values = {}

    def optionxform(self, optionstr: str) -> str:
        return optionstr.upper()

    # ShapePipe's accessors -------------------------------------------------
    def getexpanded(self, section: str, option: str) -> str:
        """The value with environment variables and ``~`` expanded."""
        return expand(self.get(section, option))

    def getlist(self, section: str, option: str, delimiter: str = ',') -> list[str]:
        """The value as a list of expanded strings (commas and newlines split)."""
        return [expand(item) for item in split_list(self.get(section, option))]

    # shapepipe's typed access -----------------------------------------------
    def section_keys(self, section: str) -> dict[str, str]:
        """Keys written in ``section`` itself (not inherited from DEFAULT)."""
        if section == 'DEFAULT':
            return dict(self._defaults)
        if not self.has_section(section):
            return {}
        return {key: self.get(section, key) for key in self._sections[section]}

    def pipeline(self, section: str, key: str) -> Any:
        """Validated value of a pipeline key (``[FILE] OUTPUT_DIR`` ...)."""
        return self._pipeline_values[section][key]

    def module_options(self, section: str) -> dict[str, Any]:
        """Validated options of a module section: ``{KEY: typed value}``."""
        try:
            return self._module_options[section]
        except KeyError:
            raise ConfigError(f'{self.where(section)}section was not validated') from None

    def where(self, section: str) -> str:
        """Message prefix naming the config file and section."""
        return f'{os.path.basename(self.path or "config")} [{section}] '

    def validate_pipeline_sections(self) -> None:
        """Check the pipeline sections' keys and types; store their values."""
        for section, declared in PIPELINE_OPTIONS.items():
            if section != 'DEFAULT' and not self.has_section(section):
                if any(opt.required for opt in declared):
                    raise ConfigError(
                        f'{os.path.basename(self.path)}: missing section [{section}]'
                        f' (it needs {", ".join(o.name for o in declared if o.required)})',
                        section=section,
                    )
            raw = self.section_keys(section)
            if section == 'DEFAULT':
                # DEFAULT may hold user variables for %(name)s interpolation.
                raw = {k: v for k, v in raw.items() if k in {o.name for o in declared}}
            self._pipeline_values[section] = read_options(declared, raw, self.where(section))
        self.run_seed = self._pipeline_values['EXECUTION']['SEED']
        if not self._pipeline_values['EXECUTION']['MODULE']:
            raise ConfigError(f'{self.where("EXECUTION")}MODULE is empty: name the module runners '
                              f'to run (`shapepipe_run -l` lists them)', key='MODULE')
        if self._pipeline_values['JOB']['SMP_BATCH_SIZE'] < 1:
            raise ConfigError(f'{self.where("JOB")}SMP_BATCH_SIZE must be >= 1')
        parse_timeout(self._pipeline_values['JOB']['TIMEOUT'], self.where('JOB'))

    def check_sections(self, module_runs: Sequence[ModuleRun], runner_names: Iterable[str]) -> None:
        """Refuse sections that no part of the run reads (a misspelt section's keys
        would otherwise be silently ignored).

        Accepted: the pipeline sections, the sections of the module runs, and
        sections of installed runners that are not in ``MODULE`` (kept for a
        later run). A ``_RUN_N`` section of a module in ``MODULE`` that does not
        run N times is refused.

        Raises
        ------
        ConfigError
            Naming the first unused section, with a did-you-mean suggestion.
        """
        used = set(PIPELINE_OPTIONS)
        for run in module_runs:
            used |= {run.section, run.name.upper(), run.runner.upper()}
        in_module = {run.runner.upper() for run in module_runs}
        others = {name.upper() for name in runner_names} - in_module
        for section in self.sections():
            if section in used:
                continue
            match = _RUN_SECTION.match(section)
            base = match.group('base') if match else section
            if base in others:
                continue
            runs = sum(1 for run in module_runs if run.runner.upper() == base)
            why = (f'{base.lower()} runs {runs} time(s) in [EXECUTION] MODULE' if runs else
                   'no module of [EXECUTION] MODULE and no pipeline section has that name')
            raise ConfigError(
                f'{os.path.basename(self.path or "config")}: unknown section [{section}]: {why}'
                f'{suggest(section, sorted(used))}', section=section,
            )

    def validate_module_section(self, section: str, declared: Sequence[Option],
                                required_section: bool = False) -> None:
        """Check a module section against its runner's declared options."""
        exists = self.has_section(section)
        if not exists and (required_section or any(opt.required for opt in declared)):
            missing = ', '.join(o.name for o in declared if o.required)
            hint = suggest(section, self.sections())
            raise ConfigError(
                f'{os.path.basename(self.path)}: missing section [{section}]'
                f'{hint or f" (it needs {missing})"}', section=section,
            )
        raw = self.section_keys(section)
        values = read_options(
            tuple(declared) + MODULE_COMMON_OPTIONS, raw, self.where(section),
        )
        if values.get('TIMEOUT'):
            parse_timeout(values['TIMEOUT'], self.where(section))
        self._module_options[section] = values
        return values


_RUN_SECTION = re.compile(r'^(?P<base>.+?)_RUN_\d+$')
MAX_TIMEOUT = 30 * 24 * 3600
"""Longest TIMEOUT accepted (30 days); leave TIMEOUT empty for no limit."""


def parse_timeout(text: str | float | None, where: str = '') -> float | None:
    """Seconds from ``HH:MM:SS``, ``MM:SS`` or a number; None when empty.

    Raises
    ------
    ConfigError
        Not a time, not positive, not finite (``nan``, ``inf``) or longer than
        :data:`MAX_TIMEOUT`.
    """
    if text is None or not str(text).strip():
        return None
    parts = str(text).strip().split(':')
    try:
        if len(parts) > 3:
            raise ValueError
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise ConfigError(
            f'{where}TIMEOUT = {text!r}: expected HH:MM:SS or a number of seconds'
        ) from None
    if not math.isfinite(seconds):
        raise ConfigError(f'{where}TIMEOUT = {text!r} is not a finite time: give HH:MM:SS or '
                          f'seconds, or leave it empty for no limit', key='TIMEOUT')
    if seconds <= 0:
        raise ConfigError(f'{where}TIMEOUT = {text!r} must be positive', key='TIMEOUT')
    if seconds > MAX_TIMEOUT:
        raise ConfigError(f'{where}TIMEOUT = {text!r} is more than 30 days: leave it empty for '
                          f'no limit', key='TIMEOUT')
    return seconds


def _error_line(error):
    """Line number of a configparser error, or None (interpolation errors have none)."""
    if getattr(error, 'errors', None):
        return error.errors[0][0]
    return getattr(error, 'lineno', None)


def load_config(path: str | os.PathLike) -> ShapePipeConfig:
    """Parse a config file.

    Raises
    ------
    ConfigError
        When the file is missing, unreadable or not valid INI.
    """
    if not os.path.isfile(path):
        raise ConfigError(
            f'config file {path!r} not found: give its path with -c (e.g. '
            f'shapepipe_run -c $SP_CONFIG/config.ini)', path=path,
        )
    config = ShapePipeConfig(os.path.abspath(path))
    try:
        with open(path) as handle:
            config.read_file(handle)
        # Resolve interpolation once so errors surface here, not in a job.
        for section in config.sections():
            for key in config._sections[section]:
                config.get(section, key)
    except OSError as error:
        raise ConfigError(f'cannot read config file {path!r}: {error.strerror}', path=path) from None
    except configparser.Error as error:
        line = _error_line(error)
        first = str(error).strip().splitlines()[0]
        if isinstance(error, configparser.MissingSectionHeaderError):
            first = 'a key before the first [SECTION] header'
        elif isinstance(error, configparser.ParsingError):
            first = 'not a KEY = VALUE line or a [SECTION] header'
        first = re.sub(r"^While reading from '.*?' \[line +\d+\]: ", '', first)
        if line:
            with open(path, errors='replace') as handle:
                text = handle.read().splitlines()[line - 1].strip()
            first += f': {text!r}'
        where = f'{path}:{line}' if line else path
        raise ConfigError(f'{where}: not a valid config file: {first}', path=path,
                          line=line) from None
    except UnicodeDecodeError:
        raise ConfigError(f'{path}: not a text config file', path=path) from None
    return config
