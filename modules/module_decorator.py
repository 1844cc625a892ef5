"""The decorator that turns a function into a pipeline runner.

Usage::

    from shapepipe.modules.module_decorator import Input, Output, module_runner
    from shapepipe.options import Option

    @module_runner(
        version='1.0',
        input_module='sextractor_runner',
        inputs=[Input('catalog', 'sexcat', '.fits')],
        outputs=[Output('selection', 'mask/{*}{num}.fits', 'fits_ldac')],
        options=[Option('SETOOLS_CONFIG_PATH', 'str', doc='Selection file')],
    )
    def setools_runner(input_file_list, run_dirs, file_number_string,
                       config, module_config_sec, w_log):
        opts = config.module_options(module_config_sec)
        catalog = input_file_list.inputs['catalog']
        ...
        return stdout, stderr

The signature is ShapePipe's, so runners written for it keep working; a
runner may declare ``file_pattern``/``file_ext`` instead of ``inputs`` (it
then gets no roles) and may omit ``outputs`` (its consumers are then not
checked).
"""

from dataclasses import dataclass, field

from shapepipe.options import Option
from shapepipe.pipeline.connections import Input, Output, input_patterns

__all__ = ['Input', 'Output', 'RunnerInfo', 'module_runner']


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return list(value)


@dataclass(frozen=True)
class RunnerInfo:
    """What a runner declares about itself."""

    name: str
    version: str
    description: str
    input_module: list
    file_pattern: list
    file_ext: list
    depends: list
    executes: list
    numbering_scheme: str
    run_method: str
    options: tuple = field(default_factory=tuple)
    inputs: tuple = field(default_factory=tuple)
    outputs: tuple = field(default_factory=tuple)


def module_runner(
    version='0.0.1',
    input_module=None,
    file_pattern='',
    file_ext='',
    depends=None,
    executes=None,
    numbering_scheme=None,
    run_method='parallel',
    options=(),
    description=None,
    inputs=(),
    outputs=(),
):
    """Declare a runner function's properties and configuration options.

    Parameters
    ----------
    version : str
        Module version, written to the main log.
    input_module : str or list of str, optional
        Module(s) whose output this one reads by default.
    file_pattern, file_ext : str or list of str
        Default input file patterns and extensions.
    depends : list of str, optional
        Python packages the module imports (checked and versioned at start).
    executes : list of str, optional
        Executables the module runs (checked at start; a section key
        ``EXEC_PATH`` replaces the first one).
    numbering_scheme : str, optional
        Default numbering scheme (``RE:...`` or an example string).
    run_method : {'parallel', 'serial'}
        One job per file number, or one job with every file.
    options : sequence of Option
        The keys the module's config section accepts.
    description : str, optional
        One line for ``shapepipe_run -l``; defaults to the docstring's first line.
    inputs : sequence of Input, optional
        Input roles; the patterns and extensions of those in the defaults
        (not optional, or ``default=True``) are the default
        ``file_pattern``/``file_ext`` (which must then be omitted).
    outputs : sequence of Output, optional
        The files a job writes; inputs of downstream modules are checked
        against them before any job starts.
    """
    if run_method not in ('parallel', 'serial'):
        raise ValueError(f'run_method must be parallel or serial, not {run_method!r}')
    for opt in options:
        if not isinstance(opt, Option):
            raise TypeError(f'options must be Option instances, got {opt!r}')
    if any(not isinstance(inp, Input) for inp in inputs) or any(
            not isinstance(out, Output) for out in outputs):
        raise TypeError('inputs must be Input and outputs Output instances')
    if inputs:
        if file_pattern or file_ext:
            raise ValueError('declare either inputs or file_pattern/file_ext, not both')
        file_pattern, file_ext = input_patterns(inputs)
    names = {opt.name for opt in options}
    for key in [inp.enabled_by for inp in inputs] + [
            (out.when or '').partition('=')[0] for out in outputs]:
        if key and key not in names:
            raise ValueError(f'enabled_by/when names {key}, which is not a declared option')

    def decorator(func):
        doc = (func.__doc__ or '').strip().splitlines()
        func.runner_info = RunnerInfo(
            name=func.__name__,
            version=str(version),
            description=description or (doc[0] if doc else ''),
            input_module=_as_list(input_module),
            file_pattern=_as_list(file_pattern),
            file_ext=_as_list(file_ext),
            depends=_as_list(depends),
            executes=_as_list(executes),
            numbering_scheme=numbering_scheme,
            run_method=run_method,
            options=tuple(options),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
        )
        # ShapePipe exposes these as attributes of the runner function.
        for key in ('version', 'input_module', 'file_pattern', 'file_ext',
                    'depends', 'executes', 'numbering_scheme', 'run_method'):
            setattr(func, key, getattr(func.runner_info, key))
        return func

    return decorator
