"""Simulate a CFIS-like field: exposures, a tile, star catalogues and the truth."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import galsim
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from joblib import Parallel, delayed

from shapepipe import cfis
from shapepipe.errors import ConfigError, InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.star_catalog import write_star_catalog
from shapepipe.simulation import focal_plane as fp
from shapepipe.simulation.psf_model import ExposurePSF, psf_profile
from shapepipe.simulation.render import (
    GSPARAMS, draw_objects, exposure_psfs, local_jacobians, sky_offsets_deg,
)
from shapepipe.simulation.sources import (
    SHEAR_POSITIONS, concatenate, make_galaxies, make_stars,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

# Flag-map bits of the simulated exposures.
FLAG_BAD = 1
FLAG_SATURATED = 2
FLAG_COSMIC = 4
BRIGHT_STAR_MAG = 18.0   # stars listed in the star catalogues (for masks)


@dataclass
class Settings:
    """What to simulate. See :data:`PRESETS` and ``shapepipe_simulate --help``."""

    tile_id: str = '277.282'
    n_exposures: int = 3
    ccds: tuple = (12, 13, 21, 22)
    tile_npix: int = 1940
    galaxy_margin_arcmin: float = 1.0
    g1: float = 0.0
    g2: float = 0.0
    rotated_pairs: bool = False
    pair_offset_arcsec: float = 3.0
    shear_field: str = 'constant'
    shear_positions: str = 'groups'     # lensing of positions, see sources.lens_positions
    seed: int = 1
    first_odometer: int = 2113737
    dither_arcmin: float = 1.0
    galaxy_density: float = 55.0
    star_density: float = 1.9
    n_jobs: int = 2
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        """Raise ConfigError on impossible settings."""
        if not self.ccds:
            raise ConfigError('no CCDs to simulate: give at least one CCD (--ccds)')
        bad = [c for c in self.ccds if not 0 <= c < cfis.N_CCD]
        if bad:
            raise ConfigError(f'CCD numbers {bad} are outside 0..{cfis.N_CCD - 1}')
        if self.n_exposures < 1:
            raise ConfigError('--n-exposures must be at least 1')
        if self.tile_npix < 64:
            raise ConfigError('--tile-npix must be at least 64')
        cfis.tile_coord_from_id(self.tile_id)
        if self.shear_field not in ('constant', 'sinusoid'):
            raise ConfigError(f'--shear-field {self.shear_field!r}: use constant or sinusoid')
        if self.shear_positions not in SHEAR_POSITIONS:
            raise ConfigError(f'--shear-positions {self.shear_positions!r}: use '
                              f'{", ".join(SHEAR_POSITIONS)}')
        if self.shear_positions == 'field' and self.shear_field != 'constant':
            raise ConfigError("--shear-positions field needs --shear-field constant; use groups")


PRESETS = {
    'demo': Settings(),
    'cfis': Settings(ccds=tuple(range(cfis.N_CCD)), tile_npix=cfis.TILE_NPIX),
    'test': Settings(n_exposures=2, ccds=(13,), tile_npix=600, galaxy_density=20.0,
                     star_density=6.0, galaxy_margin_arcmin=0.3),
    # Four neighbouring tiles around a corner of the tiling, sharing the exposures
    # (shapepipe.simulation.multi_tile); tile_npix is each partial tile's size.
    'tiles2x2': Settings(n_exposures=2, ccds=(13,), tile_npix=400, galaxy_density=20.0,
                         star_density=6.0, galaxy_margin_arcmin=0.3),
}


@dataclass
class Exposure:
    """One simulated exposure's metadata."""

    odometer: int
    ra0: float
    dec0: float
    photzp: float
    sky: float
    gain: float
    read_noise: float
    saturate: float
    psf: ExposurePSF

    @property
    def fscale(self) -> float:
        """Flux scale to zero point 30."""
        return 10 ** (-0.4 * (self.photzp - cfis.TILE_ZERO_POINT))

    @property
    def noise_sigma(self) -> float:
        """Per-pixel noise of the sky [ADU]."""
        return np.sqrt(self.sky / self.gain + (self.read_noise / self.gain) ** 2)


def _rng(seed, *keys):
    return np.random.default_rng(np.random.SeedSequence([int(seed)] + [int(k) for k in keys]))


def make_exposures(settings: Settings, ra_t: float, dec_t: float) -> list[Exposure]:
    """Pointings (tile centre on the chosen CCDs' mean centre, dithered) and conditions."""
    rng = _rng(settings.seed, 1)
    u_c = np.mean([fp.ccd_centre(c)[0] for c in settings.ccds]) * cfis.EXPOSURE_PIXEL_SCALE
    v_c = np.mean([fp.ccd_centre(c)[1] for c in settings.ccds]) * cfis.EXPOSURE_PIXEL_SCALE
    exposures = []
    for i in range(settings.n_exposures):
        du, dv = rng.uniform(-1, 1, 2) * settings.dither_arcmin * 60 if i else (0.0, 0.0)
        # The tile centre sits at focal-plane (u_c + du, v_c + dv) [arcsec] from the
        # pointing; u is west (RA decreasing), v north.
        u_off, v_off = (u_c + du) / 3600.0, (v_c + dv) / 3600.0
        dec0 = dec_t - v_off
        ra0 = ra_t + u_off / np.cos(np.radians(dec_t))
        exposures.append(Exposure(
            odometer=settings.first_odometer + 137 * i, ra0=ra0, dec0=dec0,
            photzp=30.5 + rng.normal(0, 0.05), sky=rng.uniform(180, 260),
            gain=1.6, read_noise=4.5, saturate=60000.0, psf=ExposurePSF.draw(rng),
        ))
    return exposures


def make_truth(
    settings: Settings, exposures: Sequence[Exposure], ra_t: float, dec_t: float,
) -> dict[str, np.ndarray]:
    """Truth columns: galaxies around the tile, stars over the exposures' CCDs."""
    rng = _rng(settings.seed, 2)
    half_tile = settings.tile_npix * cfis.TILE_PIXEL_SCALE / 3600.0 / 2
    galaxies = make_galaxies(rng, ra_t, dec_t, half_tile + settings.galaxy_margin_arcmin / 60,
                             settings.g1, settings.g2, settings.rotated_pairs,
                             settings.galaxy_density, settings.shear_field,
                             settings.pair_offset_arcsec, settings.shear_positions)
    # Stars over every CCD of every exposure, for PSF modelling.
    corners = []
    for exposure in exposures:
        for ccd in settings.ccds:
            wcs = fp.ccd_wcs(ccd, exposure.ra0, exposure.dec0)
            corners.append(wcs.all_pix2world([[1, 1], [fp.NX_FILE, fp.NY_FILE]], 1))
    corners = np.concatenate(corners)
    u, v = sky_offsets_deg(corners[:, 0], corners[:, 1], ra_t, dec_t)
    half_stars = max(np.abs(u).max(), np.abs(v).max(), half_tile) + 0.01
    stars = make_stars(_rng(settings.seed, 3), ra_t, dec_t, half_stars, settings.star_density)
    truth = concatenate(galaxies, stars)
    truth['id'] = np.arange(1, len(truth['ra']) + 1)
    truth['flux'] = 10 ** (-0.4 * (truth['mag'] - cfis.TILE_ZERO_POINT))
    return truth


def _select(x, y, nx, ny, margin):
    return (x > -margin) & (x < nx + margin) & (y > -margin) & (y < ny + margin)


def render_ccd(
    settings: Settings, exposure: Exposure, ccd: int, truth: Mapping[str, np.ndarray], workdir: str,
) -> tuple[int, int, dict[str, str]]:
    """Image, weight and flag of one CCD, written to temporary one-HDU files."""
    header = fp.ccd_header(ccd, exposure.ra0, exposure.dec0)
    wcs = WCS(header)
    x, y = wcs.all_world2pix(truth['ra'], truth['dec'], 1)
    keep = np.flatnonzero(_select(x, y, fp.NX_FILE, fp.NY_FILE, 150))
    sub = {k: v[keep] for k, v in truth.items()}
    x, y, jac = local_jacobians(wcs, sub['ra'], sub['dec'])
    u, v = sky_offsets_deg(sub['ra'], sub['dec'], exposure.ra0, exposure.dec0)
    fwhm, _, _ = exposure.psf.params(u, v)
    psfs = exposure_psfs(exposure.psf, u, v)
    fluxes = 10 ** (-0.4 * (sub['mag'] - exposure.photzp))
    image = galsim.ImageF(fp.NX_FILE, fp.NY_FILE, init_value=0.0)
    draw_objects(image, sub, x, y, jac, fluxes, psfs, fwhm, cfis.EXPOSURE_PIXEL_SCALE,
                 exposure.noise_sigma)
    signal = image.array
    rng = _rng(settings.seed, 4, exposure.odometer, ccd)
    variance = (exposure.sky + np.clip(signal, 0, None)) / exposure.gain + (
        exposure.read_noise / exposure.gain) ** 2
    data = (signal + exposure.sky + rng.standard_normal(signal.shape) * np.sqrt(variance)).astype(
        np.float32)
    flags = np.zeros(data.shape, np.int16)
    # Cosmic rays: short tracks of a few pixels.
    for _ in range(rng.poisson(150)):
        length = rng.integers(2, 8)
        angle = rng.uniform(0, np.pi)
        x0, y0 = rng.uniform(0, fp.NX_FILE), rng.uniform(0, fp.NY_FILE)
        xs = np.clip((x0 + np.arange(length) * np.cos(angle)).astype(int), 0, fp.NX_FILE - 1)
        ys = np.clip((y0 + np.arange(length) * np.sin(angle)).astype(int), 0, fp.NY_FILE - 1)
        data[ys, xs] += rng.uniform(300, 3000)
        flags[ys, xs] |= FLAG_COSMIC
    saturated = data >= exposure.saturate
    data[saturated] = exposure.saturate
    flags[saturated] |= FLAG_SATURATED
    weight = np.full(data.shape, 1.0 / exposure.noise_sigma ** 2, np.float32)
    for column in rng.integers(fp.X_DATA[0], fp.X_DATA[1], rng.integers(1, 3)):
        flags[:, column - 1] |= FLAG_BAD
        weight[:, column - 1] = 0
    overscan = np.ones(data.shape, bool)
    overscan[fp.Y_DATA[0] - 1:fp.Y_DATA[1], fp.X_DATA[0] - 1:fp.X_DATA[1]] = False
    data[overscan] = 0.0
    weight[overscan] = 0.0
    flags[overscan] |= FLAG_BAD
    header['PHOTZP'] = (exposure.photzp, 'Photometric zero point [mag]')
    header['FSCALE'] = (exposure.fscale, 'Flux scale to zero point 30')
    header['GAIN'] = (exposure.gain, 'e-/ADU')
    header['RDNOISE'] = (exposure.read_noise, 'Read noise [e-]')
    header['SATURATE'] = (exposure.saturate, 'Saturation level [ADU]')
    header['EXPTIME'] = (200.0, 'Exposure time [s]')
    header['FILTER'] = 'r.MP9602'
    header['EXPNUM'] = exposure.odometer
    paths = {}
    for kind, array in (('image', data), ('weight', weight), ('flag', flags)):
        path = os.path.join(workdir, f'{exposure.odometer}_{ccd:02d}_{kind}.fits')
        hdu = fits.CompImageHDU(array, header=header, compression_type='RICE_1')
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
        paths[kind] = path
    return exposure.odometer, ccd, paths


def tile_wcs(settings: Settings, ra_t: float, dec_t: float) -> fits.Header:
    """TAN WCS of the (possibly partial) tile, centred on the true tile centre."""
    s = cfis.TILE_PIXEL_SCALE / 3600.0
    header = fits.Header()
    header['CTYPE1'], header['CTYPE2'] = 'RA---TAN', 'DEC--TAN'
    header['CRVAL1'], header['CRVAL2'] = ra_t, dec_t
    header['CRPIX1'] = header['CRPIX2'] = (settings.tile_npix + 1) / 2.0
    header['CD1_1'], header['CD1_2'], header['CD2_1'], header['CD2_2'] = -s, 0.0, 0.0, s
    return header


def epoch_positions(
    settings: Settings, exposures: Sequence[Exposure], truth: Mapping[str, np.ndarray],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per exposure: CCD number (-1 off the data areas) and pixel position."""
    n = len(truth['ra'])
    result = []
    for exposure in exposures:
        ccd_of = np.full(n, -1)
        xs, ys = np.full(n, np.nan), np.full(n, np.nan)
        for ccd in settings.ccds:
            wcs = fp.ccd_wcs(ccd, exposure.ra0, exposure.dec0)
            x, y = wcs.all_world2pix(truth['ra'], truth['dec'], 1)
            on = fp.on_data(x, y) & (ccd_of < 0)
            ccd_of[on], xs[on], ys[on] = ccd, x[on], y[on]
        result.append((ccd_of, xs, ys))
    return result


def render_tile(
    settings: Settings, exposures: Sequence[Exposure], truth: Mapping[str, np.ndarray],
    epochs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], header: fits.Header, workdir: str,
) -> tuple[str, str]:
    """The stacked tile (ZP 30, sky-subtracted) and its weight."""
    wcs = WCS(header)
    npix = settings.tile_npix
    x, y = wcs.all_world2pix(truth['ra'], truth['dec'], 1)
    keep = np.flatnonzero(_select(x, y, npix, npix, 150))
    sub = {k: v[keep] for k, v in truth.items()}
    x, y, jac = local_jacobians(wcs, sub['ra'], sub['dec'])
    noise_exp = np.array([e.noise_sigma * e.fscale for e in exposures])
    psfs, fwhms = [], []
    for j, index in enumerate(keep):
        members, weights, sizes = [], [], []
        for exposure, (ccd_of, _, _) in zip(exposures, epochs):
            if ccd_of[index] < 0:
                continue
            u, v = sky_offsets_deg(sub['ra'][j], sub['dec'][j], exposure.ra0, exposure.dec0)
            fwhm, g1, g2 = exposure.psf.params(u, v)
            members.append(psf_profile(float(fwhm), float(g1), float(g2), GSPARAMS))
            sizes.append(float(fwhm))
        if not members:   # in a CCD gap of every exposure: no light in the stack
            members = [psf_profile(0.7, 0.0, 0.0, GSPARAMS)]
            sizes = [0.7]
            sub['mag'][j] = 99.0
        weights = [1.0 / len(members)] * len(members)
        psfs.append(galsim.Add([m * w for m, w in zip(members, weights)]) if len(members) > 1
                    else members[0])
        fwhms.append(max(sizes))
    fluxes = 10 ** (-0.4 * (sub['mag'] - cfis.TILE_ZERO_POINT))
    sigma = float(np.sqrt(np.mean(noise_exp ** 2) / len(exposures)))
    image = galsim.ImageF(npix, npix, init_value=0.0)
    draw_objects(image, sub, x, y, jac, fluxes, psfs, np.array(fwhms), cfis.TILE_PIXEL_SCALE,
                 sigma)
    rng = _rng(settings.seed, 5)
    data = (image.array + rng.standard_normal(image.array.shape) * sigma).astype(np.float32)
    weight = np.full(data.shape, 1.0 / sigma ** 2, np.float32)
    header = header.copy()
    header['PHOTZP'] = (cfis.TILE_ZERO_POINT, 'Photometric zero point [mag]')
    header['GAIN'] = (1.6 * len(exposures), 'effective gain')
    header['FILTER'] = 'r.MP9602'
    for exposure in exposures:
        header.add_history(f' {exposure.odometer}p.fits')
    image_path = os.path.join(workdir, 'tile_image.fits')
    fits.PrimaryHDU(data, header=header).writeto(image_path)
    weight_path = os.path.join(workdir, 'tile_weight.fits')
    fits.HDUList([fits.PrimaryHDU(header=header),
                  fits.CompImageHDU(weight, header=header, compression_type='RICE_1')]
                 ).writeto(weight_path)
    return image_path, weight_path


def assemble_mosaic(path: str, exposure: Exposure, parts: Sequence[str]) -> None:
    """Write a mosaic: a primary HDU then the CCD extensions, copied as bytes."""
    primary = fits.Header()
    primary['EXPNUM'] = exposure.odometer
    primary['OBJECT'] = 'CFIS simulated field'
    primary['RA_DEG'], primary['DEC_DEG'] = exposure.ra0, exposure.dec0
    primary['PHOTZP'] = exposure.photzp
    primary['FSCALE'] = exposure.fscale
    primary['EXPTIME'] = 200.0
    primary['NEXTEND'] = len(parts)
    with atomic_path(path) as tmp:
        fits.PrimaryHDU(header=primary).writeto(tmp)
        with open(tmp, 'ab') as out:
            for part in parts:
                with fits.open(part) as hdul:
                    start = hdul[1].fileinfo()['hdrLoc']
                with open(part, 'rb') as handle:
                    handle.seek(start)
                    shutil.copyfileobj(handle, out)


def write_mosaics(
    out_dir: str, exposures: Sequence[Exposure],
    ccd_parts: Iterable[tuple[int, int, Mapping[str, str]]],
) -> None:
    """The image, weight and flag mosaics of every exposure in ``input_exposures``,
    from :func:`render_ccd`'s ``(odometer, ccd, paths)`` results."""
    by_exposure = {}
    for odometer, ccd, paths in ccd_parts:
        by_exposure.setdefault(odometer, []).append((ccd, paths))
    for exposure in exposures:
        parts = sorted(by_exposure[exposure.odometer])
        for kind in ('image', 'weight', 'flag'):
            name = cfis.exposure_raw_name(exposure.odometer, kind)
            assemble_mosaic(os.path.join(out_dir, 'input_exposures', name), exposure,
                            [paths[kind] for _, paths in parts])


def write_truth(
    path: str, truth: Mapping[str, np.ndarray], exposures: Sequence[Exposure],
    epochs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], tile_header: fits.Header,
    settings: Settings,
) -> None:
    """``truth.fits``: HDU TRUTH (one row per object) and HDU EXPOSURES."""
    table = Table({k: truth[k] for k in ('id', 'ra', 'dec', 'mag', 'flux', 'is_star', 'hlr',
                                         'bulge_frac', 'e1_int', 'e2_int', 'g1', 'g2')})
    table['flux'].description = 'flux at zero point 30 [ADU]'
    table['hlr'].description = 'half-light radius [arcsec] (0 for stars)'
    x, y = WCS(tile_header).all_world2pix(truth['ra'], truth['dec'], 1)
    table['x_tile'], table['y_tile'] = x, y
    for i, (exposure, (ccd_of, xs, ys)) in enumerate(zip(exposures, epochs)):
        u, v = sky_offsets_deg(truth['ra'], truth['dec'], exposure.ra0, exposure.dec0)
        fwhm, g1, g2 = exposure.psf.params(u, v)
        table[f'ccd_{i}'] = ccd_of
        table[f'x_{i}'], table[f'y_{i}'] = xs, ys
        table[f'psf_fwhm_{i}'], table[f'psf_g1_{i}'], table[f'psf_g2_{i}'] = fwhm, g1, g2
    meta = Table(rows=[(e.odometer, e.ra0, e.dec0, e.photzp, e.fscale, e.sky, e.gain,
                        e.read_noise) + e.psf.as_row() for e in exposures],
                 names=('odometer', 'ra0', 'dec0', 'photzp', 'fscale', 'sky', 'gain',
                        'read_noise', 'psf_fwhm', 'psf_fwhm_slope', 'psf_a0', 'psf_a1',
                        'psf_a2', 'psf_b0', 'psf_b1', 'psf_b2'))
    header = fits.Header()
    header['TILE_ID'] = settings.tile_id
    header['SEED'] = settings.seed
    header['G1'], header['G2'] = settings.g1, settings.g2
    header['ROTPAIRS'] = settings.rotated_pairs
    header['SHEARFLD'] = settings.shear_field
    header['SHEARPOS'] = (settings.shear_positions, 'lensing of positions (lens_positions)')
    header['PSFBETA'] = (3.0, 'Moffat beta of the PSF')
    hdul = fits.HDUList([fits.PrimaryHDU(header=header),
                         fits.BinTableHDU(table, name='TRUTH'),
                         fits.BinTableHDU(meta, name='EXPOSURES')])
    with atomic_path(path) as tmp:
        hdul.writeto(tmp)


def write_star_catalogs(
    out_dir: str, truth: Mapping[str, np.ndarray], exposures: Sequence[Exposure],
    epochs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], settings: Settings,
    tile_x: np.ndarray, tile_y: np.ndarray,
) -> None:
    """Bright-star catalogues (GSC 2.2 text) per CCD image and for the tile."""
    cat_dir = os.path.join(out_dir, 'output_star_cat')
    os.makedirs(cat_dir, exist_ok=True)
    bright = truth['is_star'] & (truth['mag'] < BRIGHT_STAR_MAG)
    margin = 200
    for exposure, (ccd_of, _, _) in zip(exposures, epochs):
        for ccd in settings.ccds:
            wcs = fp.ccd_wcs(ccd, exposure.ra0, exposure.dec0)
            x, y = wcs.all_world2pix(truth['ra'], truth['dec'], 1)
            sel = bright & _select(x, y, fp.NX_FILE, fp.NY_FILE, margin)
            write_star_catalog(os.path.join(cat_dir, f'star_cat-{exposure.odometer}-{ccd}.cat'),
                               truth['ra'][sel], truth['dec'][sel], truth['mag'][sel])
    sel = bright & _select(tile_x, tile_y, settings.tile_npix, settings.tile_npix, margin)
    tile_num = cfis.pipeline_id(settings.tile_id)
    write_star_catalog(os.path.join(cat_dir, f'star_cat-{tile_num}.cat'),
                       truth['ra'][sel], truth['dec'][sel], truth['mag'][sel])


def prepare_output(out_dir: str, overwrite: bool) -> None:
    """Create the output directory; refuse a non-empty one without overwrite."""
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise InputError(
                f'output directory {out_dir} is not empty: choose another or add --overwrite',
                path=out_dir)
        for name in ('input_exposures', 'input_tiles', 'output_star_cat'):
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    for name in ('input_exposures', 'input_tiles'):
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)


def simulate(
    out_dir: str, settings: Settings, overwrite: bool = False, log: Callable[[str], object] = print,
) -> dict[str, Any]:
    """Write a simulated field into ``out_dir``; return a summary dict."""
    settings.check()
    ra_t, dec_t = cfis.tile_coord_from_id(settings.tile_id)
    exposures = make_exposures(settings, ra_t, dec_t)
    truth = make_truth(settings, exposures, ra_t, dec_t)
    epochs = epoch_positions(settings, exposures, truth)
    header = tile_wcs(settings, ra_t, dec_t)
    tile_x, tile_y = WCS(header).all_world2pix(truth['ra'], truth['dec'], 1)
    on_tile = _select(tile_x, tile_y, settings.tile_npix, settings.tile_npix, 0)
    for exposure, (ccd_of, _, _) in zip(exposures, epochs):
        if not (on_tile & (ccd_of >= 0)).any():
            raise ConfigError(f'exposure {exposure.odometer} does not overlap tile '
                              f'{settings.tile_id}: reduce the dither or choose CCDs that cover '
                              f'the tile (--ccds)')
    prepare_output(out_dir, overwrite)
    log(f'{len(truth["ra"])} objects ({int(truth["is_star"].sum())} stars), '
        f'{len(exposures)} exposures x {len(settings.ccds)} CCDs, tile {settings.tile_npix}^2')
    with tempfile.TemporaryDirectory(dir=out_dir, prefix='.simulate_') as workdir:
        tasks = [delayed(render_ccd)(settings, e, c, truth, workdir)
                 for e in exposures for c in settings.ccds]
        tasks.append(delayed(render_tile)(settings, exposures, truth, epochs, header, workdir))
        results = Parallel(n_jobs=settings.n_jobs, backend='loky')(tasks)
        ccd_parts, (tile_image, tile_weight) = results[:-1], results[-1]
        write_mosaics(out_dir, exposures, ccd_parts)
        shutil.move(tile_image, os.path.join(out_dir, 'input_tiles',
                                             cfis.tile_raw_name(settings.tile_id, 'image')))
        shutil.move(tile_weight, os.path.join(out_dir, 'input_tiles',
                                              cfis.tile_raw_name(settings.tile_id, 'weight')))
    write_star_catalogs(out_dir, truth, exposures, epochs, settings, tile_x, tile_y)
    write_truth(os.path.join(out_dir, 'truth.fits'), truth, exposures, epochs, header, settings)
    with open(os.path.join(out_dir, 'tile_numbers.txt'), 'w') as handle:
        handle.write(settings.tile_id + '\n')
    return {'n_objects': len(truth['ra']), 'n_stars': int(truth['is_star'].sum()),
            'exposures': [e.odometer for e in exposures]}


def settings_for(preset: str, **overrides: Any) -> Settings:
    """A preset's settings with some fields replaced (None values ignored)."""
    if preset not in PRESETS:
        raise ConfigError(f'unknown preset {preset!r}: use one of {", ".join(PRESETS)}')
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
