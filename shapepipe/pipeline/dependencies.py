"""Checking, before any job runs, that modules' Python packages and
executables are installed, and recording their versions."""

from __future__ import annotations

from collections.abc import Iterable
import importlib.metadata
import importlib.util
import subprocess

from shapepipe.errors import DependencyError, ExecutableError
from shapepipe.pipeline.execute import find_executable, install_hint

# Import name -> distribution name, where they differ.
_DISTRIBUTIONS = {'sip_tpv': 'sip_tpv', 'mpi4py': 'mpi4py', 'skimage': 'scikit-image',
                  'sklearn': 'scikit-learn', 'yaml': 'PyYAML', 'PIL': 'Pillow'}


def python_package_version(name: str) -> str | None:
    """Installed version of a Python package, or None when it is missing."""
    top = name.split('.')[0]
    if importlib.util.find_spec(top) is None:
        return None
    for dist in (_DISTRIBUTIONS.get(top, top), top.replace('_', '-')):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return 'unknown version'


def check_python_packages(names: Iterable[str], module: str) -> dict[str, str]:
    """Versions of ``names``; raise DependencyError naming the first missing one."""
    versions = {}
    for name in names:
        version = python_package_version(name)
        if version is None:
            raise DependencyError(
                f'module {module} needs the Python package {name!r}, which is not installed: '
                f'run `.venv/bin/pip install {name}` (or `make install`)', package=name,
            )
        versions[name] = version
    return versions


def executable_version(path: str) -> str:
    """First line of ``<path> --version`` (or ``-v``), '' when it says nothing."""
    for flag in ('--version', '-v'):
        try:
            proc = subprocess.run([path, flag], capture_output=True, text=True,
                                  errors='replace', timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (proc.stdout or proc.stderr).strip()
        if text:
            return text.splitlines()[0]
    return ''


def check_executables(names: Iterable[str], module: str) -> dict[str, str]:
    """Paths of ``names``; raise ExecutableError naming the first missing one."""
    paths = {}
    for name in names:
        path = find_executable(name)
        if path is None:
            raise ExecutableError(
                f'module {module} needs the executable {name!r}, which is not on the PATH: '
                f'{install_hint(name)}', executable=name,
            )
        paths[name] = path
    return paths
