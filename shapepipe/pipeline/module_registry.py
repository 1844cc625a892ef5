"""Finding and importing module runners.

Runners are ``shapepipe.modules.<name>_runner``; a user's own runners can live
in the directories listed in the ``SHAPEPIPE_MODULE_PATH`` environment
variable (``:``-separated), as ``<name>_runner.py`` files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import glob
import importlib
import importlib.util
import os
import pkgutil
import sys

import shapepipe.modules as modules_package
from shapepipe.errors import ConfigError
from shapepipe.pipeline.options import suggest

USER_PATH_VARIABLE = 'SHAPEPIPE_MODULE_PATH'


def _user_runner_files():
    files = {}
    for directory in os.environ.get(USER_PATH_VARIABLE, '').split(os.pathsep):
        if directory:
            for path in sorted(glob.glob(os.path.join(directory, '*_runner.py'))):
                files.setdefault(os.path.basename(path)[:-3], path)
    return files


def available_runners() -> list[str]:
    """Names of every installed runner and of the user's own, sorted."""
    names = {
        info.name for info in pkgutil.iter_modules(modules_package.__path__)
        if info.name.endswith('_runner')
    }
    return sorted(names | set(_user_runner_files()))


def _import(name):
    user_files = _user_runner_files()
    builtin = importlib.util.find_spec(f'shapepipe.modules.{name}') is not None
    if builtin or name not in user_files:
        try:
            return importlib.import_module(f'shapepipe.modules.{name}')
        except Exception as error:
            raise _import_error(name, f'shapepipe.modules.{name}', error) from None
    key = f'shapepipe_user_modules.{name}'
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, user_files[name])
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[key]
            raise _import_error(name, user_files[name], error) from None
    return sys.modules[key]


def _import_error(name, where, error):
    """One line for a runner that cannot be imported (syntax error, missing import)."""
    if isinstance(error, SyntaxError):
        place = f'{error.filename or where}:{error.lineno}'
        what = f'{type(error).__name__}: {error.msg}'
    else:
        place = where
        what = f'{type(error).__name__}: {error}'.splitlines()[0]
    fix = (f'fix the file or remove its directory from {USER_PATH_VARIABLE}'
           if where.endswith('.py') else 'reinstall shapepipe (make install)')
    return ConfigError(f'module {name} cannot be imported ({place}: {what}): {fix}',
                       key='MODULE', path=where)


def load_runner(name: str) -> Callable[..., Any]:
    """The runner function of module ``name`` (e.g. ``'setools_runner'``).

    Raises
    ------
    ConfigError
        When no such runner exists (with a did-you-mean suggestion).
    """
    names = available_runners()
    if name not in names:
        raise ConfigError(
            f'unknown module {name!r} in [EXECUTION] MODULE{suggest(name, names)}; '
            f'`shapepipe_run -l` lists the modules', key='MODULE',
        )
    module = _import(name)
    func = getattr(module, name, None)
    if func is None or not hasattr(func, 'runner_info'):
        raise ConfigError(
            f'{module.__file__}: no function {name} decorated with @module_runner'
        )
    return func
