"""Layering rules, checked on the imports of every source file (ast):

* core (``shapepipe/``) imports no runner and no runner package;
* a runner ``modules/<name>_runner.py`` and its package ``modules/<name>_package/``
  import no other runner package: what two modules share lives in
  ``shapepipe/io`` (formats) or another core place (``shapepipe/cfis.py`` ...);
* a package never imports ``shapepipe.pipeline`` (runners are the adapters).
"""

import ast
import os
import re

import pytest

from tests.conftest import REPO

PACKAGE = re.compile(r'^shapepipe\.modules\.(\w+?)_(package|runner)\b')


def _module_name(path):
    """Dotted name of a source file as installed (``modules/`` is ``shapepipe.modules``)."""
    rel = os.path.relpath(path, REPO)[:-3].split(os.sep)
    if rel[0] == 'modules':
        rel = ['shapepipe'] + rel
    if rel[-1] == '__init__':
        rel = rel[:-1]
    return '.'.join(rel)


def imports(path):
    """Absolute names imported by a file (relative imports resolved)."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    package = _module_name(path)
    if not path.endswith('__init__.py'):
        package = package.rsplit('.', 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            names.append(base)
            names += [f'{base}.{alias.name}' for alias in node.names]
    return names


def _sources(top):
    for root, _, files in os.walk(os.path.join(REPO, top)):
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(root, name)


def violations(path):
    """The layering rules a file breaks, one line each."""
    rel = os.path.relpath(path, REPO)
    parts = rel.split(os.sep)
    own = None
    if parts[0] == 'modules':
        match = re.match(r'(\w+?)_(package|runner)', parts[1])
        own = match.group(1) if match else None
    in_package = parts[0] == 'modules' and parts[1].endswith('_package')
    found = []
    for name in imports(path):
        match = PACKAGE.match(name)
        if parts[0] == 'shapepipe' and match:
            found.append(f'{rel}: core imports the runner code {match.group(0)}')
        elif parts[0] == 'modules' and match and match.group(1) != own:
            found.append(f'{rel}: imports another module\'s {match.group(0)} (share it '
                         f'through shapepipe/io or another core place)')
        if in_package and name.startswith('shapepipe.pipeline'):
            found.append(f'{rel}: a package imports the pipeline')
    return sorted(set(found))


def test_imports_are_resolved():
    """The rule checker sees relative and dotted imports (guards the test itself)."""
    names = imports(os.path.join(REPO, 'modules', 'ngmix_runner.py'))
    assert 'shapepipe.modules.ngmix_package.measure' in names
    assert 'shapepipe.io.exposure_headers.read_exposure_headers' in names


def test_checker_catches_each_rule(tmp_path):
    """A file breaking each rule is reported (so an empty report means something)."""
    global REPO
    saved, REPO = REPO, str(tmp_path)
    try:
        (tmp_path / 'shapepipe').mkdir()
        core = tmp_path / 'shapepipe' / 'core.py'
        core.write_text('from shapepipe.modules.ngmix_package.measure import measure\n')
        (tmp_path / 'modules' / 'a_package').mkdir(parents=True)
        package = tmp_path / 'modules' / 'a_package' / 'x.py'
        package.write_text('from shapepipe.pipeline.options import Option\n'
                           'import shapepipe.modules.b_package.y\n'
                           'from ..b_package import z\n'
                           'from .w import v\n')
        assert len(violations(str(core))) == 1
        lines = violations(str(package))
        assert any('pipeline' in line for line in lines)
        assert sum('b_package' in line for line in lines) == 1
        assert not any('shapepipe.modules.a_package' in line for line in lines)
        relative = tmp_path / 'modules' / 'a_package' / 'r.py'
        relative.write_text('from ..b_package import z\n')
        assert len(violations(str(relative))) == 1
    finally:
        REPO = saved


@pytest.mark.parametrize('top', ['shapepipe', 'modules'])
def test_layering(top):
    found = [line for path in _sources(top) for line in violations(path)]
    assert not found, '\n'.join(found)
