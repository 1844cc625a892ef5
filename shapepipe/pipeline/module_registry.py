"""Finding and importing module runners (``shapepipe.modules.<name>_runner``)."""

import importlib
import pkgutil

import shapepipe.modules as modules_package
from shapepipe.errors import ConfigError
from shapepipe.pipeline.options import suggest


def available_runners():
    """Names of every installed runner, sorted."""
    return sorted(
        info.name for info in pkgutil.iter_modules(modules_package.__path__)
        if info.name.endswith('_runner')
    )


def load_runner(name):
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
    module = importlib.import_module(f'shapepipe.modules.{name}')
    func = getattr(module, name, None)
    if func is None or not hasattr(func, 'runner_info'):
        raise ConfigError(
            f'shapepipe/modules/{name}.py has no function {name} decorated with @module_runner'
        )
    return func
