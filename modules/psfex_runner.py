"""Model the PSF of each CCD with PSFEx from a star selection."""

import os

from shapepipe.errors import ExecutableError
from shapepipe.io.atomic import atomic_directory, atomic_paths
from shapepipe.io.tool_args import tool_paths
from shapepipe.modules.module_decorator import Input, Output, module_runner
from shapepipe.modules.psfex_package.psfex import (
    build_command, check_model, check_star_catalog, configured_basis, psf_path, record_basis,
)
from shapepipe.pipeline.execute import execute, find_executable
from shapepipe.pipeline.options import Option


@module_runner(
    version='1.1',
    input_module='setools_runner',
    inputs=[Input('stars', 'star_selection', '.fits')],
    outputs=[Output('model', '{*}{num}.psf', 'psfex', 'named after the star catalogue'),
             Output('catalog', 'psfex_cat{num}.cat', 'fits_ldac')],
    executes=['psfex'],
    depends=['numpy', 'astropy'],
    options=[
        Option('EXEC_PATH', 'str', 'psfex', 'PSFEx executable'),
        Option('DOT_PSFEX_FILE', 'str', doc='PSFEx configuration file'),
        Option('MIN_STARS', 'int', 5, 'Fewer selected stars than this: no model for the CCD'),
    ],
)
def psfex_runner(input_file_list, run_dirs, file_number_string, config, module_config_sec,
                 w_log):
    """Fit a PSFEx model to a CCD's selected stars."""
    opts = config.module_options(module_config_sec)
    star_catalog = input_file_list[0]
    n_stars = check_star_catalog(star_catalog, opts['MIN_STARS'])
    executable = find_executable(opts['EXEC_PATH'])
    if executable is None:
        raise ExecutableError(f'PSFEx ({opts["EXEC_PATH"]}) not found: sudo apt-get install psfex')
    output_dir = run_dirs['output']
    out_catalog = os.path.join(output_dir, f'psfex_cat{file_number_string}.cat')
    model = psf_path(output_dir, star_catalog)
    # PSFEx names its model itself: it writes into a scratch directory and the
    # outputs reach their final names only once complete (failure, timeout and
    # Ctrl-C leave nothing under a final name).
    with atomic_directory(output_dir) as scratch, tool_paths(output_dir) as arg, \
            atomic_paths([model, out_catalog]) as (tmp_model, tmp_catalog):
        catalog_arg = arg(star_catalog)
        stdout, stderr = execute(build_command(
            executable, catalog_arg, arg(opts['DOT_PSFEX_FILE']), arg(scratch),
            arg(tmp_catalog), cwd=output_dir), cwd=output_dir)
        scratch_model = psf_path(scratch, catalog_arg)
        accepted, chi2 = check_model(scratch_model, stderr)
        record_basis(scratch_model, configured_basis(opts['DOT_PSFEX_FILE']), tmp_model)
    w_log.info('%d stars in, %d accepted, chi2 %.2f: %s', n_stars, accepted, chi2, model)
    return stdout or f'{accepted} of {n_stars} stars accepted', stderr
