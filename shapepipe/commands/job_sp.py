"""``job_sp``: process CFIS tiles and the exposures they were stacked from with
the production configs of ``example/cfis`` (ShapePipe's ``job_sp.bash``, as a
command; ``scripts/job_sp.bash`` is its shell face).

    job_sp [-j JOB] [-c CONFIG_DIR] [-p psfex|mccd|piff] [-r symlink|vos]
           [-s onthefly|save] [-o OUTPUT_DIR] [-n N_SMP] [--nsh_jobs N]
           [--nsh_step N] [--nsh_max N] [--star_cat_from FILE] [--mpi N]
           [--mpiexec CMD] [--resume] TILE_ID [TILE_ID ...]

Run in the run directory ($SP_RUN = the current directory), as ShapePipe's
script. ``-j`` is bit-coded: 1 retrieve, 2 prepare, 4 mask, 8 tile detection and
exposure PSFs, 16 tile PSFs/stamps/spread model, 32 shapes, 64 paste (final
catalogues), 128 upload. Several tiles go in one call: every step runs once over
all tiles (exposures shared by tiles are processed once) with the tiles' jobs in
parallel (SMP, or MPI ranks with ``--mpi``). The shape step splits the tiles into
ID ranges run at once and merged by merge_sep_cats, as many as the cores, tiles and
object count call for (or ShapePipe's ``--nsh_jobs``).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from shapepipe.errors import ShapePipeError

if TYPE_CHECKING:
    from collections.abc import Sequence

STEPS = ((1, 'retrieve'), (2, 'prepare'), (4, 'mask'), (8, 'detect'), (16, 'galaxy selection'),
         (32, 'shapes'), (64, 'paste'), (128, 'upload'))
NSH_JOBS_SHAPEPIPE = 8        # job_sp.bash's --nsh_jobs
#: Fewest objects per shape range when job_sp computes the split (a range costs a
#: shapepipe_run start-up of a few seconds; ngmix takes ~0.1 s per object and epoch)
MIN_RANGE_OBJECTS = 200
OFFLINE_JOB = 127            # everything but the upload, with -r symlink -s save
CFHT_VOSPACE = ('ws-cadc.canfar.net', 443)
STATE_FILE = 'job_sp_steps.txt'
#: Step 16's config per PSF model: ShapePipe's letters P(sfex) and M(ccd); Pf for Piff
TILE_PSF_CONFIG = {'psfex': 'config_tile_PiViSmVi.ini', 'mccd': 'config_tile_MiViSmVi.ini',
                   'piff': 'config_tile_PfViSmVi.ini'}


class JobSpError(ShapePipeError):
    """A job_sp step cannot run or failed."""


def step_configs(psf: str = 'psfex', retrieve: str = 'symlink',
                 star_cat_for_mask: str = 'save') -> dict[int, list[str]]:
    """The configs of ``SP_CONFIG`` each step runs (templates for 32 and 64)."""
    return {1: [f'config_GitFeGie_{retrieve}.ini'],
            2: ['config_tile_Uz.ini', 'config_exp_SpMh.ini'],
            4: [f'config_MaMa_{star_cat_for_mask}.ini'],
            8: [f'config_tile_Sx_exp_{psf}.ini'],
            16: [TILE_PSF_CONFIG[psf]],
            32: ['config_tile_Ng_template.ini'],
            64: ['config_merge_sep_cats_template.ini', f'config_make_cat_{psf}.ini'],
            128: []}


def fill_shape_template(text: str, k: int, id_min: int, id_max: int, psf: str) -> str:
    """A ``config_tile_Ng_template.ini`` for ID range ``k`` (as job_sp.bash's perl):
    ``ID_OBJ_MIN/MAX = X`` set, ``NgXu`` -> ``Ng<k>u``, ``X_interp`` -> ``<psf>_interp``."""
    text = re.sub(r'(ID_OBJ_MIN\s*=)\s*X\b', rf'\g<1> {id_min}', text)
    text = re.sub(r'(ID_OBJ_MAX\s*=)\s*X\b', rf'\g<1> {id_max}', text)
    return text.replace('NgXu', f'Ng{k}u').replace('X_interp', f'{psf}_interp')


def fill_merge_template(text: str, n_split: int) -> str:
    """A ``config_merge_sep_cats_template.ini`` with ``N_SPLIT_MAX = X`` set."""
    return re.sub(r'(N_SPLIT_MAX\s*=)\s*X\b', rf'\g<1> {n_split}', text)


def set_key(text: str, key: str, value: object) -> str:
    """Replace every ``KEY = ...`` line (ShapePipe's update_config)."""
    return re.sub(rf'(?m)^({key}\s*=).*$', rf'\g<1> {value}', text)


def set_execution_mode(text: str, mode: str) -> str:
    """``[EXECUTION] MODE`` set to ``mode`` (module sections' own MODE keys untouched)."""
    match = re.search(r'(?ms)^\[EXECUTION\][^\[]*', text)
    if not match:
        return text
    section = re.sub(r'(?m)^(MODE\s*=).*$', rf'\g<1> {mode}', match.group(0))
    if section == match.group(0) and not re.search(r'(?m)^MODE\s*=', section):
        section = section.rstrip('\n') + f'\nMODE = {mode}\n\n'
    return text[:match.start()] + section + text[match.end():]


def count_ccd_hdus(mosaic: str) -> int:
    """Image HDUs after the primary of an exposure mosaic (its CCDs; MegaCam: 40)."""
    from astropy.io import fits

    with fits.open(mosaic) as hdul:
        return sum(1 for hdu in hdul[1:] if hdu.is_image)


def id_ranges(
    n_obj: int, nsh_jobs: int, nsh_step: int = -1, nsh_max: int = -1,
) -> list[tuple[int, int, int]]:
    """ID ranges ``[(k, id_min, id_max)]`` of the shape jobs, as job_sp.bash.

    The step is ``n_obj // nsh_jobs`` unless given; the last range is open
    (``-1``) unless ``nsh_max`` caps every range.
    """
    if nsh_max != -1:
        nsh_step = nsh_max
    if nsh_step == -1:
        nsh_step = max(1, n_obj // nsh_jobs)
    ranges = []
    n_min = 0
    for k in range(1, nsh_jobs + 1):
        last = k == nsh_jobs and nsh_max == -1
        ranges.append((k, n_min, -1 if last else n_min + nsh_step - 1))
        n_min += nsh_step
    return ranges


def network_available(address: tuple[str, int] = CFHT_VOSPACE, timeout: float = 3.0) -> bool:
    """Whether the CADC VOSpace answers (a TCP connection within ``timeout``)."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def default_config_dir() -> str:
    """``$SP_CONFIG`` if set, else ``example/cfis`` of this source tree."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, 'example', 'cfis')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='job_sp', description=__doc__.split('\n')[0])
    parser.add_argument('-j', '--job', type=int, default=OFFLINE_JOB,
                        help='steps, bit-coded: 1 retrieve, 2 prepare, 4 mask, 8 detection and '
                             'exposure PSFs, 16 galaxy selection, 32 shapes, 64 paste, 128 upload '
                             f'(default {OFFLINE_JOB}: all offline steps)')
    parser.add_argument('-c', '--config_dir', default=None,
                        help='config directory (default: example/cfis of shapepipe)')
    parser.add_argument('-p', '--psf', default='psfex', choices=('psfex', 'mccd', 'piff'),
                        help='PSF model (default psfex)')
    parser.add_argument('-r', '--retrieve', default='symlink', choices=('symlink', 'vos'),
                        help='image retrieval: symlink (local files in data_tiles/, data_exp/) or '
                             'vos (CANFAR VOSpace, online); default symlink')
    parser.add_argument('-s', '--star_cat_for_mask', default='save', choices=('onthefly', 'save'),
                        help='bright stars for the masks: save (catalogues made in step 1, '
                             'offline with --star_cat_from) or onthefly (GSC 2.2 queries, online); '
                             'default save')
    parser.add_argument('-o', '--output_dir', default='cosmostat/kilbinger/results_v1',
                        help='upload directory on vos:cfis (step 128)')
    parser.add_argument('-n', '--n_smp', type=int, default=-1,
                        help='SMP_BATCH_SIZE of every step (default: the configs\')')
    parser.add_argument('--nsh_jobs', type=int, default=None,
                        help='shape jobs (ID ranges) run at once (default: computed from the '
                             'cores, the tiles and the object count; ShapePipe: 8)')
    parser.add_argument('--nsh_step', type=int, default=-1,
                        help='objects per shape job (default: the object count / nsh_jobs)')
    parser.add_argument('--nsh_max', type=int, default=-1,
                        help='largest number of objects per shape job (precedes --nsh_step)')
    parser.add_argument('--star_cat_from', default=None,
                        help='local star catalogue (ra, dec, mag) for -s save, offline')
    parser.add_argument('--mpi', type=int, default=0, metavar='N',
                        help='run every step under MPI with N ranks ([EXECUTION] MODE = MPI, '
                             'shapepipe_run under mpiexec -n N): the jobs of each step (tiles, '
                             'exposures, CCDs) spread over the ranks, on several nodes with '
                             '--mpiexec; default 0: SMP on this machine')
    parser.add_argument('--mpiexec', default=None,
                        help='MPI launcher command, e.g. "mpiexec -f hosts" (default: the '
                             'mpiexec beside this Python, else on PATH)')
    parser.add_argument('--resume', action='store_true',
                        help='skip the steps a previous job_sp on the same tiles finished')
    parser.add_argument('tiles', nargs='+', metavar='TILE_ID', help='tile IDs, e.g. 283.247')
    args = parser.parse_args(argv)
    if args.mpi < 0:
        parser.error('--mpi must be 0 (SMP) or a number of ranks')
    if args.job < 1 or args.job > 255:
        parser.error('-j must be between 1 and 255')
    for tile in args.tiles:
        if not re.fullmatch(r'\d{3}[.\-]\d{3}', tile):
            parser.error(f'{tile!r} is not a tile ID (XXX.YYY)')
    return args


class JobSp:
    """One job_sp call: the environment, the steps and their record."""

    def __init__(self, args, run_dir='.', log=print):
        self.args = args
        self.run_dir = os.path.abspath(run_dir)
        self.log = log
        self.tiles = [t.replace('-', '.') for t in args.tiles]
        self.bin = os.path.dirname(sys.executable)
        self.config_dir = os.path.abspath(args.config_dir or os.environ.get('SP_CONFIG')
                                          or default_config_dir())
        self.sp_config = os.path.join(self.run_dir, 'cfis')
        self.sp_config_mod = os.path.join(self.run_dir, 'cfis_mod')
        self.output = os.path.join(self.run_dir, 'output')
        self.env = dict(os.environ, SP_RUN=self.run_dir, SP_CONFIG=self.sp_config,
                        SP_CONFIG_MOD=self.sp_config_mod,
                        VM_HOME=os.environ.get('VM_HOME', os.path.expanduser('~')),
                        PATH=self.bin + os.pathsep + os.environ.get('PATH', ''))
        self.timings = {}
        self.configs = step_configs(args.psf, args.retrieve, args.star_cat_for_mask)
        self.mpiexec = None
        if getattr(args, 'mpi', 0):
            local = os.path.join(self.bin, 'mpiexec')
            self.mpiexec = (args.mpiexec.split() if args.mpiexec else
                            [local if os.path.exists(local) else 'mpiexec'])

    # Checks before anything runs ------------------------------------------
    def check(self) -> None:
        """One-line errors for what cannot work here, before any step runs."""
        job, args = self.args.job, self.args
        if args.psf != 'psfex':
            from shapepipe.pipeline.module_registry import available_runners

            needed = {'mccd': 'mccd_fit_val_runner', 'piff': 'piff_runner'}[args.psf]
            if needed not in available_runners():
                raise JobSpError(f'-p {args.psf} needs the {needed} module, which is not '
                                 f'installed; use -p psfex')
        if self.mpiexec:
            import shutil

            if not shutil.which(self.mpiexec[0]):
                raise JobSpError(f'--mpi: MPI launcher {self.mpiexec[0]} not found: install '
                                 f'mpich (make install) or give --mpiexec')
            try:
                import mpi4py  # noqa: F401
            except ImportError:
                raise JobSpError('--mpi needs mpi4py: .venv/bin/pip install mpi4py mpich') from None
        if not os.path.isdir(self.config_dir):
            raise JobSpError(f'config directory {self.config_dir} not found: give it with -c')
        online = []
        if job & 1 and args.retrieve == 'vos':
            online.append('-r vos (step 1)')
        if job & 4 and args.star_cat_for_mask == 'onthefly':
            online.append('-s onthefly (step 4)')
        if job & 1 and args.star_cat_for_mask == 'save' and not args.star_cat_from and not (
                os.path.isdir(os.path.join(self.run_dir, 'star_cat_tiles'))
                and os.path.isdir(os.path.join(self.run_dir, 'star_cat_exp'))):
            online.append('-s save without --star_cat_from (GSC 2.2 queries in step 1)')
        if job & 128:
            online.append('the upload (step 128)')
        if online and not network_available():
            raise JobSpError(f'{" and ".join(online)} need the network, which is not reachable '
                             f'from here: use -r symlink -s save --star_cat_from STARS and '
                             f'-j {job & ~128 if job & 128 else job} without the upload')

    # Running configs -------------------------------------------------------
    def config_path(self, name: str, **keys: object) -> str:
        """The config to run: the original, or a copy in cfis_mod with keys set."""
        original = os.path.join(self.sp_config, name)
        if not keys and self.args.n_smp == -1 and not self.mpiexec:
            return original
        with open(original) as handle:
            text = handle.read()
        for key, value in keys.items():
            text = set_key(text, key, value)
        return self.write_mod(name, self.adapt(text))

    def adapt(self, text: str) -> str:
        """A config's text with ``-n`` (SMP_BATCH_SIZE) and ``--mpi`` (MODE = MPI) applied."""
        if self.args.n_smp != -1:
            text = set_key(text, 'SMP_BATCH_SIZE', self.args.n_smp)
        if self.mpiexec:
            text = set_execution_mode(text, 'MPI')
        return text

    def launch(self, config: str, ranks: int | None = None) -> list[str]:
        """The command running ``config``: shapepipe_run, under mpiexec with --mpi."""
        command = [os.path.join(self.bin, 'shapepipe_run'), '-c', config]
        if self.mpiexec:
            command = self.mpiexec + ['-n', str(ranks or self.args.mpi)] + command
        return command

    def write_mod(self, name: str, text: str) -> str:
        os.makedirs(self.sp_config_mod, exist_ok=True)
        path = os.path.join(self.sp_config_mod, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def shapepipe_run(self, config: str, what: str, stop: bool = True) -> int:
        """``shapepipe_run -c config``; a failure stops job_sp unless ``stop`` is False."""
        command = self.launch(config)
        self.log(f'{what}: {" ".join(os.path.basename(c) if c.startswith(self.bin) else c for c in command)}')
        result = subprocess.run(command,
                                cwd=self.run_dir, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if result.returncode:
            message = (f'{what} failed (shapepipe_run exit {result.returncode}): '
                       f'{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""}'
                       f' logs in {self.output}')
            if stop:
                raise JobSpError(message)
            self.log(f'{message}; continuing, as job_sp.bash does here')
        return result.returncode

    def command(self, args: list[str], what: str) -> None:
        self.log(f'{what}: {" ".join(args)}')
        result = subprocess.run(args, cwd=self.run_dir, env=self.env, capture_output=True,
                                text=True)
        if result.returncode:
            raise JobSpError(f'{what} failed: {(result.stderr or result.stdout).strip()}')

    def last_output(self, module: str) -> str:
        from shapepipe.pipeline.run_log import resolve_dir_or_module

        return resolve_dir_or_module(module, os.path.join(self.output, 'log_run_sp.txt'))[0]

    # Steps -----------------------------------------------------------------
    def step_retrieve(self) -> None:
        with open(os.path.join(self.run_dir, 'tile_numbers.txt'), 'w') as handle:
            handle.write(''.join(f'{tile}\n' for tile in self.tiles))
        if not os.path.exists(self.sp_config):
            os.symlink(self.config_dir, self.sp_config)
        # The simulator's layout (input_tiles, input_exposures) under ShapePipe's names
        for ours, theirs in (('input_tiles', 'data_tiles'), ('input_exposures', 'data_exp')):
            src, dst = os.path.join(self.run_dir, ours), os.path.join(self.run_dir, theirs)
            if os.path.isdir(src) and not os.path.exists(dst):
                os.symlink(ours, dst)
        self.shapepipe_run(self.config_path(self.configs[1][0]),
                           'retrieve images')
        if self.args.star_cat_for_mask == 'save':
            source = ['--from', os.path.abspath(self.args.star_cat_from)] if (
                self.args.star_cat_from) else []
            create = os.path.join(self.bin, 'create_star_cat')
            for module, out, mode in (('get_images_runner_run_1', 'star_cat_tiles', 'tile'),
                                      ('get_images_runner_run_2', 'star_cat_exp', 'exp')):
                if not source and os.path.isdir(os.path.join(self.run_dir, out)):
                    continue   # made beforehand
                self.command([create, self.last_output(module), os.path.join(self.run_dir, out),
                              mode] + source, f'star catalogues for the masks ({mode})')

    def n_hdu(self) -> int:
        """CCD HDUs of the first exposure mosaic retrieved (MegaCam: 40)."""
        paths = sorted(glob.glob(os.path.join(self.last_output('get_images_runner_run_2'),
                                              'image-*')))
        return count_ccd_hdus(paths[0]) if paths else 40

    def step_prepare(self) -> None:
        self.shapepipe_run(self.config_path(self.configs[2][0]), 'uncompress tile weights')
        self.shapepipe_run(self.config_path(self.configs[2][1], N_HDU=self.n_hdu()),
                           'split exposures, merge headers')

    def step_mask(self) -> None:
        self.shapepipe_run(self.config_path(self.configs[4][0]),
                           'mask tiles and exposures')

    def step_detect(self) -> None:
        self.shapepipe_run(self.config_path(self.configs[8][0]),
                           f'tile detection, exposure PSFs ({self.args.psf})', stop=False)

    def step_galaxy_selection(self) -> None:
        self.shapepipe_run(self.config_path(self.configs[16][0]),
                           'tile PSFs, stamps, spread model')

    def shape_plan(self, n_obj: int) -> tuple[list[tuple[int, int, int]], int | None, int]:
        """ID ranges, SMP_BATCH_SIZE of each range (None: the template's) and MPI ranks of
        each range for a shape step of ``n_obj`` objects per tile.

        With ``--nsh_jobs`` (or ``--nsh_step``/``--nsh_max``) as ShapePipe's script.
        Otherwise the split follows the cores (``--mpi`` ranks, else this machine's) and
        the object count: the tiles run in parallel inside each range, and a tile is split
        only while there are fewer jobs than cores and every range keeps at least
        ``MIN_RANGE_OBJECTS`` objects (each range pays a shapepipe_run start-up).
        """
        cores = self.args.mpi or os.cpu_count() or 1
        if self.args.nsh_jobs is not None or self.args.nsh_step != -1 or self.args.nsh_max != -1:
            n_ranges = self.args.nsh_jobs or NSH_JOBS_SHAPEPIPE
            ranges = id_ranges(n_obj, n_ranges, self.args.nsh_step, self.args.nsh_max)
            return ranges, None, max(1, cores // len(ranges))
        n_tiles = len(self.tiles)
        n_ranges = max(1, min(-(-cores // n_tiles), n_obj // MIN_RANGE_OBJECTS))
        batch = max(1, min(n_tiles, cores // n_ranges))
        return id_ranges(n_obj, n_ranges), batch, max(1, cores // n_ranges)

    def _ranges_path(self) -> str:
        return os.path.join(self.output, 'job_sp_shape_ranges.txt')

    def step_shapes(self) -> None:
        from shapepipe.commands.get_number_objects import number_of_objects

        n_obj = number_of_objects(os.path.join(self.output, 'log_run_sp.txt'))
        ranges, batch, ranks = self.shape_plan(n_obj)
        with open(os.path.join(self.sp_config, self.configs[32][0])) as handle:
            template = handle.read()
        configs = []
        for k, id_min, id_max in ranges:
            text = fill_shape_template(template, k, id_min, id_max, self.args.psf)
            if batch is not None:
                text = set_key(text, 'SMP_BATCH_SIZE', batch)
            configs.append(self.write_mod(f'config_tile_Ng{k}u.ini', self.adapt(text)))
        with open(self._ranges_path(), 'a') as handle:
            handle.write(f'{",".join(sorted(self.tiles))} {self.args.psf} {len(ranges)}\n')
        self.log(f'shapes: {n_obj} objects per tile in {len(ranges)} ID range(s) '
                 f'{", ".join(f"{a}..{b}" for _, a, b in ranges)}, run at once'
                 + (f', {batch} tile(s) at once in each' if batch else '')
                 + (f', {ranks} MPI rank(s) each' if self.mpiexec else ''))
        processes = [subprocess.Popen(self.launch(path, ranks), cwd=self.run_dir, env=self.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True) for path in configs]
        failed = []
        for path, process in zip(configs, processes):
            _, err = process.communicate()
            if process.returncode:
                failed.append(f'{os.path.basename(path)} (exit {process.returncode})')
        if failed:
            raise JobSpError(f'shapes failed: {", ".join(failed)}; logs in {self.output}')

    def n_shape_ranges(self) -> int:
        """Ranges of the last shape step on these tiles (recorded by step 32)."""
        key, found = ','.join(sorted(self.tiles)), None
        if os.path.isfile(self._ranges_path()):
            with open(self._ranges_path()) as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 3 and parts[0] == key and parts[1] == self.args.psf:
                        found = int(parts[2])
        if found is None:
            raise JobSpError('paste: no shape step (-j 32) recorded for these tiles and PSF: '
                             'run it first')
        return found

    def step_paste(self) -> None:
        with open(os.path.join(self.sp_config, self.configs[64][0])) as handle:
            text = fill_merge_template(handle.read(), self.n_shape_ranges())
        self.shapepipe_run(self.write_mod('config_merge_sep_cats.ini', self.adapt(text)),
                           'merge the shape catalogues of the ID ranges')
        self.shapepipe_run(self.config_path(self.configs[64][1]),
                           'final catalogues')

    def step_upload(self) -> None:
        import tarfile

        tag = '_'.join(self.tiles)
        groups = {'final_cat': '*/make_cat_runner/output/final_cat-*',
                  'pipeline_flag': '*/mask_runner_run_1/output/pipeline_flag-???-???*',
                  'logs': '*/logs/*'}
        for name, pattern in groups.items():
            files = glob.glob(os.path.join(self.output, pattern))
            if not files:
                raise JobSpError(f'upload: no file {pattern} in {self.output}')
            tarball = os.path.join(self.run_dir, f'{name}_{tag}.tgz')
            with tarfile.open(tarball, 'w:gz') as tar:
                for path in files:
                    tar.add(path, arcname=os.path.relpath(path, self.run_dir))
            self.command(['vcp', f'--certfile={self.env["VM_HOME"]}/.ssl/cadcproxy.pem', tarball,
                          f'vos:cfis/{self.args.output_dir}'], f'upload {name}')

    # Record of finished steps (--resume) ----------------------------------
    def _state_path(self):
        return os.path.join(self.output, STATE_FILE)

    def finished_steps(self) -> set[int]:
        """Steps finished for this set of tiles, from the state file."""
        key = ','.join(sorted(self.tiles))
        done = set()
        if os.path.isfile(self._state_path()):
            with open(self._state_path()) as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 3 and parts[1] == key and parts[2] == self.args.psf:
                        done.add(int(parts[0]))
        return done

    def record(self, bit: int) -> None:
        os.makedirs(self.output, exist_ok=True)
        with open(self._state_path(), 'a') as handle:
            handle.write(f'{bit} {",".join(sorted(self.tiles))} {self.args.psf}\n')

    def run(self) -> int:
        """Run the steps of ``-j`` in order; return the exit status."""
        self.check()
        os.makedirs(self.output, exist_ok=True)
        done = self.finished_steps() if self.args.resume else set()
        listed = os.path.join(self.run_dir, 'tile_numbers.txt')
        if not self.args.job & 1 and os.path.isfile(listed):
            with open(listed) as handle:
                retrieved = handle.read().split()
            if sorted(retrieved) != sorted(self.tiles):
                self.log(f'warning: steps after 1 work on the tiles step 1 retrieved '
                         f'({" ".join(retrieved)}), as in ShapePipe; run -j 1 to change them')
        self.log(f'job_sp: {len(self.tiles)} tile(s) {" ".join(self.tiles)}, steps '
                 f'{"+".join(str(b) for b, _ in STEPS if self.args.job & b)}, PSF {self.args.psf}')
        for bit, name in STEPS:
            if not self.args.job & bit:
                continue
            if bit in done:
                self.log(f'step {bit} ({name}): done before, skipped (--resume)')
                continue
            start = time.monotonic()
            getattr(self, 'step_' + name.replace(' ', '_'))()
            self.timings[bit] = time.monotonic() - start
            self.record(bit)
            self.log(f'step {bit} ({name}): done in {self.timings[bit]:.1f} s')
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 when every step succeeded, 1 on a failed step, 2 on a set-up error."""
    args = parse_args(argv)
    job = JobSp(args)
    try:
        return job.run()
    except JobSpError as error:
        print(f'job_sp: error: {error}', file=sys.stderr)
        return 1 if job.timings or 'failed' in str(error) else 2
    except ShapePipeError as error:
        print(f'job_sp: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
