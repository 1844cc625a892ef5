"""Declared inputs and outputs of runners (the model is LSST pipe_base's
connections), the roles of a job's input files, and the check, before any job
starts, that each declared input matches an upstream module's declared output.

A runner declares::

    @module_runner(
        inputs=[Input('catalog', 'tile_sexcat', '.fits'),
                Input('image', 'image_vignet', '.sqlite'),
                Input('background', 'background_vignet', '.sqlite', optional=True)],
        outputs=[Output('shapes', 'ngmix{num}.fits', 'fits')],
        ...)

and reads ``input_file_list.inputs['image']`` (the list itself is unchanged,
so runners written for ShapePipe keep indexing it). ``FILE_PATTERN`` and
``FILE_EXT`` of a config still override the declared patterns; each
configured pattern then takes the role whose declared pattern it equals, and
the others take the remaining roles in declaration order (ShapePipe's
"the next input is ..." order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import itertools
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from shapepipe.errors import ConfigError

if TYPE_CHECKING:
    from shapepipe.modules.module_decorator import RunnerInfo
    from shapepipe.pipeline.config import ShapePipeConfig

_FIELD = re.compile(r'\{([^{}]*)\}')
WILDCARD = '*'


@dataclass(frozen=True)
class Input:
    """One input role of a runner.

    Parameters
    ----------
    role : str
        Name the runner uses: ``input_file_list.inputs[role]``.
    pattern : str
        Default file pattern (``FILE_PATTERN``).
    ext : str
        Default extension (``FILE_EXT``).
    optional : bool
        The role may get no file (otherwise a config whose patterns leave it
        without one is an error before any job starts).
    enabled_by : str, optional
        A bool option of the runner saying the input is given (ShapePipe's
        ``WEIGHT_IMAGE = True``: "the next input is a weight"). When that
        option is False the role takes no file.
    default : bool, optional
        Whether the pattern is among the default ``FILE_PATTERN`` (default:
        when the input is not optional).
    doc : str
        One line for templates and docs.
    """

    role: str
    pattern: str
    ext: str = '.fits'
    optional: bool = False
    enabled_by: str = None
    default: bool = None
    doc: str = ''

    @property
    def in_defaults(self) -> bool:
        """Whether the pattern is among the default ``FILE_PATTERN``."""
        return not self.optional if self.default is None else self.default


@dataclass(frozen=True)
class Output:
    """One output of a runner.

    Parameters
    ----------
    name : str
        Name of the product (e.g. ``catalog``).
    template : str
        File name with ``{num}`` for the file number. Other fields are the
        runner's options: ``{KEY}`` (a list option gives one name per item),
        ``{KEY_}`` (the value and ``_`` when set, nothing when empty or
        ``none``), ``{A|B_}`` (the first of A, B that is set) and ``{*}``
        (a part that depends on the input names).
    format : str
        File format (``fits``, ``fits_ldac``, ``sqlite``, ``psfex``, ``txt``...).
    doc : str
        One line for templates and docs.
    when : str, optional
        ``KEY``: the output is written only when the runner's option KEY is
        set (true or non-empty); ``KEY=VALUE``: only when KEY has that value
        (case-insensitive).
    """

    name: str
    template: str
    format: str = 'fits'
    doc: str = ''
    when: str = None

    def __post_init__(self):
        if '{num}' not in self.template:
            raise ValueError(f'output {self.name}: template {self.template!r} has no {{num}}')

    def written(self, options: dict) -> bool:
        """Whether a module with these option values writes this output."""
        if not self.when:
            return True
        key, _, value = self.when.partition('=')
        if key not in options:
            return True
        if value:
            return str(options[key]).lower() == value.lower()
        return bool(options[key])

    @property
    def ext(self) -> str:
        """The extension: what follows ``{num}`` in the template."""
        return self.template.split('{num}', 1)[1]

    def bases(self, options: dict) -> list:
        """The possible names before ``{num}``, as regular expressions."""
        base = self.template.split('{num}', 1)[0]
        parts, pos = [], 0
        for match in _FIELD.finditer(base):
            parts.append([re.escape(base[pos:match.start()])])
            parts.append(_field_values(match.group(1), options))
            pos = match.end()
        parts.append([re.escape(base[pos:])])
        return [''.join(combo) for combo in itertools.product(*parts)]


def _field_values(field: str, options: dict) -> list:
    """Regular expressions a template field can stand for."""
    if field == WILDCARD:
        return ['.*']
    underscore = field.endswith('_')
    keys = field.rstrip('_').split('|')
    if any(key not in options for key in keys):
        return ['.*']                                   # not a declared option: unknown
    for key in keys:
        value = options[key]
        values = value if isinstance(value, list) else [value]
        values = [str(v) for v in values if v is not None and str(v).strip()
                  and str(v).strip().lower() != 'none']
        if values:
            return [re.escape(v + ('_' if underscore else '')) for v in values]
    return ['']


def input_patterns(inputs: Sequence[Input]) -> tuple:
    """Default FILE_PATTERN and FILE_EXT of declared inputs (the non-optional ones)."""
    used = [inp for inp in inputs if inp.in_defaults]
    return [inp.pattern for inp in used], [inp.ext for inp in used]


def assign_roles(inputs: Sequence[Input], patterns: Sequence[tuple],
                 options: dict) -> list:
    """The role of each (pattern, ext): a list as long as ``patterns`` (None: no role).

    A pattern equal to a declared pattern takes that role; the others take the
    remaining roles in declaration order. Inputs ``enabled_by`` a False option
    take no file.
    """
    active = [inp for inp in inputs if not inp.enabled_by or options.get(inp.enabled_by)]
    roles = [None] * len(patterns)
    free = list(active)
    for i, (pattern, _) in enumerate(patterns):
        for inp in free:
            if inp.pattern == pattern:
                roles[i] = inp.role
                free.remove(inp)
                break
    for i in range(len(patterns)):
        if roles[i] is None and free:
            roles[i] = free.pop(0).role
    return roles


def missing_roles(inputs: Sequence[Input], roles: Sequence, options: dict) -> list:
    """Declared, required and enabled roles that no pattern takes."""
    taken = set(roles)
    return [inp for inp in inputs if inp.role not in taken and not inp.optional
            and (not inp.enabled_by or options.get(inp.enabled_by))]


class InputFiles(list):
    """A job's input files: the list ShapePipe's runners index, plus
    ``inputs``, the same files by declared role (``{}`` when the runner
    declares no inputs). For a serial runner each item is the list of one
    pattern's files, and so is each role's value."""

    def __init__(self, files: Sequence = (), roles: Sequence = ()) -> None:
        super().__init__(files)
        self.inputs = {role: path for role, path in zip(roles, files) if role is not None}


def check_missing_roles(info: RunnerInfo, patterns: Sequence[tuple], options: dict,
                        where: str = '') -> list:
    """Raise when an enabled required role gets no file; return the roles."""
    if not info.inputs:
        return []
    roles = assign_roles(info.inputs, patterns, options)
    missing = missing_roles(info.inputs, roles, options)
    if missing:
        inp = missing[0]
        because = f' ({inp.enabled_by} = True)' if inp.enabled_by else ''
        raise ConfigError(
            f'{where}input {inp.role!r}{because} has no file pattern: add one to FILE_PATTERN '
            f'(e.g. {inp.pattern}) and FILE_EXT ({inp.ext}); the patterns are '
            f'{", ".join(p for p, _ in patterns)}')
    return roles


def output_matches(output: Output, options: dict, pattern: str, ext: str,
                   correct_pattern: bool = True) -> bool:
    """Whether files of ``output`` can be found by an input ``pattern`` and ``ext``."""
    if not output.written(options):
        return False
    if output.ext != ext:
        return False
    for base in output.bases(options):
        if re.fullmatch(base, pattern):
            return True
        # With CORRECT_FILE_PATTERN the pattern may be any part of the name
        # before the number; a field that depends on the inputs may hold it.
        if correct_pattern and ('.*' in base or pattern in _example(base)):
            return True
    return False


def _example(base: str) -> str:
    """A name matched by a base regular expression without wildcards."""
    return re.sub(r'\\(.)', r'\1', base)


def check_connection(run_name: str, where: str, info: RunnerInfo, patterns: Sequence[tuple],
                     roles: Sequence, upstream: list,
                     correct_pattern: bool = True) -> Optional[str]:
    """One line naming the input and the upstream outputs when an input matches none.

    Parameters
    ----------
    upstream : list of (run name, RunnerInfo, options)
        The modules of this pipeline the inputs come from; the check applies
        only when each of them declares outputs.

    Returns
    -------
    str or None
    """
    if not info.inputs or not upstream or any(not up.outputs for _, up, _ in upstream):
        return None
    for (pattern, ext), role in zip(patterns, roles):
        if any(output_matches(out, opts, pattern, ext, correct_pattern)
               for _, up, opts in upstream for out in up.outputs):
            continue
        offered = '; '.join(f'{name}: ' + (', '.join(_shown(out, opts) for out in up.outputs
                                                     if out.written(opts)) or 'none')
                            for name, up, opts in upstream)
        label = f'input {role!r}' if role else 'input'
        return (f'{where}{run_name} {label} {pattern}*{ext} matches no declared output of '
                f'{", ".join(name for name, _, _ in upstream)} ({offered}); fix FILE_PATTERN/'
                f'FILE_EXT or INPUT_MODULE')
    return None


def _shown(output: Output, options: dict) -> str:
    names = [_example(b).replace('.*', '*') for b in output.bases(options)]
    return ', '.join(f'{n}{{num}}{output.ext}' for n in names)


def describe_inputs(info: RunnerInfo) -> list:
    """``role=pattern*ext`` items of a runner's declared inputs."""
    items = []
    for inp in info.inputs:
        notes = [n for n in ('optional' if inp.optional else '',
                             '' if inp.in_defaults else 'not in the default patterns',
                             f'if {inp.enabled_by}' if inp.enabled_by else '') if n]
        items.append(f'{inp.role}={inp.pattern}*{inp.ext}'
                     + (f' ({", ".join(notes)})' if notes else ''))
    return items


def describe_outputs(info: RunnerInfo) -> list:
    """``name=template [format]`` items of a runner's declared outputs."""
    return [f'{out.name}={out.template} [{out.format}]' + (f' (if {out.when})' if out.when else '')
            for out in info.outputs]


def check_pipeline(config: ShapePipeConfig, module_runs: list, props: dict) -> None:
    """Before any job: every declared, enabled input role has a pattern, and
    every input of a module that comes from earlier modules of this pipeline
    which all declare outputs matches one of those outputs.

    Parameters
    ----------
    config : ShapePipeConfig
    module_runs : list of ModuleRun
    props : dict
        Run name -> ModuleProperties.

    Raises
    ------
    ConfigError
        One line naming the input and the upstream outputs.
    """
    from shapepipe.pipeline.plan import input_directory_entries

    correct = config.pipeline('FILE', 'CORRECT_FILE_PATTERN')
    by_name = {run.name: run for run in module_runs}
    for run in module_runs:
        prop = props[run.name]
        where = config.where(run.section)
        roles = check_missing_roles(run.info, prop.patterns, prop.options, where)
        entries = input_directory_entries(config, prop, module_runs[:run.position])
        if not entries or any(kind != 'module' for kind, _ in entries):
            continue
        upstream = [(name, by_name[name].info, props[name].options) for _, name in entries]
        problem = check_connection(run.name, where, run.info, prop.patterns, roles, upstream,
                                   correct)
        if problem:
            raise ConfigError(problem)


def data_flow(module_runs: list, props: dict, config: ShapePipeConfig) -> list:
    """Lines showing, for each module run, its inputs (role, pattern, where
    from) and its declared outputs."""
    from shapepipe.pipeline.plan import input_directory_entries

    lines = []
    for run in module_runs:
        prop = props[run.name]
        entries = input_directory_entries(config, prop, module_runs[:run.position])
        sources = ', '.join(value for _, value in entries) or 'none'
        roles = assign_roles(run.info.inputs, prop.patterns, prop.options)
        inputs = ', '.join(f'{role}={p}*{e}' if role else f'{p}*{e}'
                           for (p, e), role in zip(prop.patterns, roles))
        lines.append(f'{run.name}: {inputs} <- {sources}')
        shown = [_shown(out, prop.options) for out in run.info.outputs
                 if out.written(prop.options)]
        if shown:
            lines.append(f'{" " * len(run.name)}  -> ' + ', '.join(shown))
    return lines
