"""Write the key tables of ``docs/*.md`` from the option declarations.

A table is generated between two marker comments::

    <!-- BEGIN option-table SOURCE -->
    ...generated, do not edit...
    <!-- END option-table -->

where SOURCE is ``pipeline`` (the pipeline sections of a config file),
``common`` (the keys every module section accepts), ``runner:NAME`` (a
runner's declared options), ``flow:NAME`` (its declared input roles and
outputs) or ``mask:SECTION`` (a section of the ``.mask`` file). ``python -m shapepipe.commands.option_docs`` (``make docs``) rewrites
the tables; ``--check`` only reports the tables that differ (exit status 1),
which the test suite runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import argparse
import glob
import os
import re
import sys

from shapepipe.options import markdown_table

if TYPE_CHECKING:
    from shapepipe.modules.module_decorator import RunnerInfo

BEGIN = re.compile(r'<!-- BEGIN option-table (\S+) -->\n')
END = '<!-- END option-table -->'
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), 'docs')


def _pipeline_table() -> str:
    from shapepipe.pipeline.config import PIPELINE_OPTIONS
    parts = []
    for section, declared in PIPELINE_OPTIONS.items():
        parts.append(f'`[{section}]`\n\n{markdown_table(declared)}')
    return '\n\n'.join(parts)


def table(source: str) -> str:
    """The generated Markdown of one marker's SOURCE.

    Raises
    ------
    ValueError
        Unknown source.
    """
    if source == 'pipeline':
        return _pipeline_table()
    if source == 'common':
        from shapepipe.pipeline.config import MODULE_COMMON_OPTIONS
        return markdown_table(MODULE_COMMON_OPTIONS)
    kind, _, name = source.partition(':')
    if kind == 'runner':
        from shapepipe.pipeline.module_registry import load_runner
        return markdown_table(load_runner(name).runner_info.options)
    if kind == 'flow':
        from shapepipe.pipeline.module_registry import load_runner
        return flow_table(load_runner(name).runner_info)
    if kind == 'mask':
        # the .mask file's declarations, exported by the mask runner (loaded as a
        # plug-in: core imports no runner package)
        from shapepipe.pipeline.module_registry import load_runner
        runner = load_runner('mask_runner')
        return markdown_table(sys.modules[runner.__module__].MASK_FILE_SECTIONS[name])
    raise ValueError(f'unknown option-table source {source!r}')


def flow_table(info: RunnerInfo) -> str:
    """Tables of a runner's declared input roles and outputs."""
    if not info.inputs:
        lines = ['Inputs (no roles declared): FILE_PATTERN = '
                 f'{", ".join(info.file_pattern) or "none"}; FILE_EXT = '
                 f'{", ".join(info.file_ext) or "none"}.']
    else:
        lines = ['| input role | pattern | ext | when |', '|---|---|---|---|']
        for inp in info.inputs:
            when = [w for w in ('optional' if inp.optional else 'required',
                                '' if inp.in_defaults else 'not in the default FILE_PATTERN',
                                f'only if {inp.enabled_by} = True' if inp.enabled_by else '',
                                inp.doc) if w]
            lines.append(f'| `{inp.role}` | `{inp.pattern}` | `{inp.ext}` | {"; ".join(when)} |')
    if info.outputs:
        lines += ['', '| output | file name | format | note |', '|---|---|---|---|']
        for out in info.outputs:
            when = out.when and (f'only if {out.when}' if '=' in out.when else
                                 f'only if {out.when} is set')
            note = '; '.join(n for n in (out.doc, when) if n)
            lines.append(f'| `{out.name}` | `{out.template}` | {out.format} | {note} |')
    else:
        lines += ['', 'Outputs: not declared (downstream inputs are not checked).']
    return '\n'.join(lines)


def render(text: str) -> str:
    """``text`` with every marked table regenerated."""
    out, pos = [], 0
    for match in BEGIN.finditer(text):
        end = text.find(END, match.end())
        if end < 0:
            raise ValueError(f'option-table {match.group(1)}: no {END} marker')
        out.append(text[pos:match.end()])
        out.append(table(match.group(1)) + '\n')
        pos = end
    out.append(text[pos:])
    return ''.join(out)


def update(paths: list, check: bool = False) -> list:
    """Rewrite (or with ``check`` only compare) the files; return those that differ."""
    stale = []
    for path in paths:
        with open(path) as handle:
            text = handle.read()
        new = render(text)
        if new != text:
            stale.append(path)
            if not check:
                with open(path, 'w') as handle:
                    handle.write(new)
    return stale


def main(argv: list = None) -> int:
    """Entry point: regenerate the tables of ``docs/*.md`` (or ``--check`` them)."""
    parser = argparse.ArgumentParser(prog='python -m shapepipe.commands.option_docs',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only report stale tables (exit status 1 when any)')
    parser.add_argument('files', nargs='*', help='Markdown files (default: docs/*.md)')
    args = parser.parse_args(argv)
    paths = args.files or sorted(glob.glob(os.path.join(DOCS, '*.md')))
    stale = update(paths, check=args.check)
    for path in stale:
        print(f'{path}: option tables {"differ from" if args.check else "regenerated from"} '
              f'the declarations' + (' (run `make docs`)' if args.check else ''))
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
