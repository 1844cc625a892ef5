"""The run log and input-directory links (``last:``, ``all:``, ``PATTERN:``).

The run log ``OUTPUT_DIR/<RUN_LOG_NAME>.txt`` has one line per run:
``<run_dir> mod1,mod2,...``. A link names a module of an earlier (or the
current) run: ``last:MOD`` is ``<newest run containing MOD>/MOD/output``,
``all:MOD`` every such run (newest first), ``PATTERN:MOD`` the one run whose
log line contains PATTERN. Links resolve only through complete module runs
(see :mod:`shapepipe.pipeline.run_state`): an interrupted one is passed over
with a note saying which complete run is used instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shapepipe.errors import InputError
from shapepipe.pipeline.run_state import describe_state, module_run_complete

if TYPE_CHECKING:
    from collections.abc import Iterable

_RUN_SUFFIX = re.compile(r'^(?P<base>.+?)(?:_run_(?P<n>\d+))?$')


@dataclass(frozen=True)
class Link:
    """A parsed input-directory entry.

    ``kind`` is ``dir`` (a plain path), ``last``, ``all`` or ``pattern``.
    """

    kind: str
    value: str
    module: str = ''


def parse_input_dir(text: str) -> Link:
    """Parse one ``INPUT_DIR`` entry into a :class:`Link`.

    An existing directory of that name always wins over a link reading.
    """
    text = text.strip()
    if os.path.isdir(text) or ':' not in text:
        return Link('dir', text)
    prefix, _, module = text.rpartition(':')
    module = module.strip().lower()  # ShapePipe lowercases link module names
    if not re.fullmatch(r'\w+', module) or '/' in module:
        return Link('dir', text)
    if prefix.lower() == 'last':
        return Link('last', '', module)
    if prefix.lower() == 'all':
        return Link('all', '', module)
    return Link('pattern', prefix, module)


def resolve_dir_or_module(entry: str, run_log_path: str) -> list[str]:
    """Directories of a key such as ``ME_DOT_PSF_DIR`` or ``ME_IMAGE_DIR``.

    ``entry`` is an existing directory, a link (``last:psfex_runner``) or, as
    ShapePipe writes them, a bare module name (``psfex_runner``,
    ``sextractor_runner_run_2``), which means the module's last run in the run log.
    """
    link = parse_input_dir(entry)
    if link.kind == 'dir' and not os.path.isdir(entry) and re.fullmatch(r'\w+_runner(_run_\d+)?',
                                                                      entry.strip().lower()):
        link = Link('last', '', entry.strip().lower())
    if link.kind == 'dir':
        return [entry]
    return RunLog(run_log_path).resolve(link)


def split_run_name(name: str) -> tuple[str, int | None]:
    """``'x_runner_run_2'`` -> ``('x_runner', 2)``; ``'x_runner'`` -> ``('x_runner', None)``."""
    match = _RUN_SUFFIX.match(name)
    n = match.group('n')
    return match.group('base'), (int(n) if n else None)


class RunLog:
    """Reader and writer of the run log file."""

    def __init__(self, path):
        self.path = path
        self.notes = []   # one line per incomplete module run a link passed over

    def add_run(self, run_dir: str, modules: Iterable[str]) -> None:
        """Append the line of a new run (before its modules run)."""
        with open(self.path, 'a') as handle:
            handle.write(f'{run_dir} {",".join(modules)}\n')

    def runs(self) -> list[tuple[str, list[str]]]:
        """``[(run_dir, [modules])]`` oldest first; empty if no log yet."""
        if not os.path.isfile(self.path):
            return []
        entries = []
        with open(self.path) as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                run_dir, _, modules = line.rpartition(' ')
                if not run_dir:
                    run_dir, modules = modules, ''
                entries.append((run_dir, [m.strip() for m in modules.split(',') if m.strip()]))
        return entries

    def run_dir_path(self, run_dir: str) -> str:
        # Run directories are written as given in OUTPUT_DIR; a relative one is
        # relative to where shapepipe_run was started, which may differ from now.
        if os.path.isabs(run_dir) or os.path.isdir(run_dir):
            return run_dir
        return os.path.join(os.path.dirname(self.path), os.path.basename(run_dir))

    def candidates(
        self, module: str, incomplete: list[tuple[str, str]] | None = None,
    ) -> list[tuple[str, str]]:
        """Output directories of complete runs of ``module``, newest first.

        ``(run_dir, output_dir)`` of module runs that did not complete are
        appended to ``incomplete`` when given.
        """
        base, number = split_run_name(module)
        found = []
        seen = set()
        for run_dir, modules in reversed(self.runs()):
            if run_dir in seen or base not in [split_run_name(m)[0] for m in modules]:
                continue
            seen.add(run_dir)
            path = self.run_dir_path(run_dir)
            output = module_output_dir(path, base, number)
            if not output:
                continue
            if module_run_complete(path, os.path.dirname(output)):
                found.append((run_dir, output))
            elif incomplete is not None:
                incomplete.append((run_dir, output))
        return found

    def _incomplete_note(self, text, newest, used):
        state = describe_state(self.run_dir_path(newest[0]), os.path.dirname(newest[1]))
        where = os.path.dirname(newest[1])
        if used:
            return f'{text}: the newest run of it, {where}, {state}; using {used}'
        return (f'{text}: its only run(s) did not complete (newest: {where} {state}); '
                f'finish it with shapepipe_run --resume {self.run_dir_path(newest[0])}')

    def resolve(self, link: Link) -> list[str]:
        """Directories that a link points to.

        Raises
        ------
        InputError
            When no run in the log holds the module's output.
        """
        incomplete = []
        found = self.candidates(link.module, incomplete)
        if link.kind == 'pattern':
            found = [(run, out) for run, out in found if link.value in run]
            incomplete = [(run, out) for run, out in incomplete if link.value in run]
            if len(found) > 1:
                raise InputError(
                    f'{link.value}:{link.module} matches {len(found)} runs in {self.path}: '
                    f'use a longer pattern (e.g. the full date)', path=self.path,
                )
        what = {'last': 'last:', 'all': 'all:', 'pattern': f'{link.value}:'}[link.kind]
        if incomplete and not found:
            raise InputError(self._incomplete_note(what + link.module, incomplete[0], None),
                             path=self.path)
        newest_incomplete = [i for i in incomplete if self._newer(i[0], found[0][0])] \
            if incomplete and found else []
        if newest_incomplete:
            used = found[0][1] if link.kind != 'all' else f'the {len(found)} complete run(s)'
            self.notes.append(self._incomplete_note(what + link.module, newest_incomplete[0], used))
        if not found:
            raise InputError(
                f'{what}{link.module}: no run in {self.path} has output of {link.module}; '
                f'run that module first or give a directory', path=self.path,
            )
        if link.kind == 'last':
            return [found[0][1]]
        return [out for _, out in found]

    def _newer(self, run_a, run_b):
        """Whether ``run_a``'s latest line in the log comes after ``run_b``'s."""
        order = {run: i for i, (run, _) in enumerate(self.runs())}
        return order.get(run_a, -1) > order.get(run_b, -1)


def module_output_dir(run_dir: str, base: str, number: int | None = None) -> str | None:
    """``<run_dir>/<module>[_run_N]/output`` if it exists, else None.

    Without a run number, a module that ran several times gives its last run.
    """
    names = []
    if number is None:
        names.append(base)
        if os.path.isdir(run_dir):
            runs = sorted(
                (split_run_name(d)[1], d) for d in os.listdir(run_dir)
                if split_run_name(d)[0] == base and split_run_name(d)[1] is not None
            )
            names.extend(d for _, d in reversed(runs))
    else:
        names.append(f'{base}_run_{number}')
        if number == 1:
            names.append(base)
    for name in names:
        path = os.path.join(run_dir, name, 'output')
        if os.path.isdir(path):
            return path
    return None
