"""``MeanShapes``: focal-plane maps of PSF-model validation (star vs model).

    MeanShapes -i full_starcat-0000000.fits -o plots_dir [-x 20] [--max_e 0.05] [--max_d 0.005]

Reads the merged validation catalogue (merge_starcat_runner), places every star
on the MegaCam focal plane from its CCD number and pixel position, bins the
focal plane (``-x`` bins along x, as many as fit along y) and writes PNG maps of
the mean star and model ellipticities (e1, e2), sizes and their residuals, and a
whisker plot of the star and residual ellipticities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
import argparse
import os
import sys

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.simulation import focal_plane as fp
from shapepipe.cfis import ccd_is_flipped
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def focal_plane_positions(ccd: ArrayLike, x: ArrayLike,
                          y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Focal-plane (u, v) in pixels (u east-negative) from CCD number and pixel position."""
    u = np.empty(len(ccd))
    v = np.empty(len(ccd))
    x_mid = (fp.X_DATA[0] + fp.X_DATA[1]) / 2.0
    y_mid = (fp.Y_DATA[0] + fp.Y_DATA[1]) / 2.0
    for number in np.unique(ccd):
        sel = ccd == number
        u_c, v_c = fp.ccd_centre(int(number))
        sign = -1.0 if ccd_is_flipped(int(number)) else 1.0
        u[sel] = u_c + sign * (x[sel] - x_mid)
        v[sel] = v_c + sign * (y[sel] - y_mid)
    return u, v


def binned_mean(u: np.ndarray, v: np.ndarray, values: np.ndarray, nx: int,
                extent: tuple[float, float, float, float]) -> np.ndarray:
    """Mean of values on an (ny, nx) grid over extent (u0, u1, v0, v1); NaN where empty."""
    u0, u1, v0, v1 = extent
    ny = max(1, int(round(nx * (v1 - v0) / (u1 - u0))))
    total, _, _ = np.histogram2d(v, u, bins=(ny, nx), range=((v0, v1), (u0, u1)), weights=values)
    count, _, _ = np.histogram2d(v, u, bins=(ny, nx), range=((v0, v1), (u0, u1)))
    with np.errstate(invalid='ignore', divide='ignore'):
        return total / count


def make_plots(path: str | os.PathLike, output_dir: str | os.PathLike, n_bins: int = 20,
               max_e: float = 0.05, max_d: float = 0.005) -> list[str]:
    """Write the PNG maps; return their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        data = fits.getdata(path, 1)
    except (OSError, IndexError) as error:
        raise InputError(f'{path}: cannot read the star catalogue ({error})', path=path) from None
    good = (data['FLAG_PSF_HSM'] == 0) & (data['FLAG_STAR_HSM'] == 0)
    if not good.any():
        raise InputError(f'{path}: no star with valid shapes', path=path)
    d = data[good]
    u, v = focal_plane_positions(np.asarray(d['CCD_NB']), np.asarray(d['X'], float),
                                 np.asarray(d['Y'], float))
    corners = np.array([fp.ccd_centre(c) for c in range(40)])
    extent = (corners[:, 0].min() - fp.NX_DATA / 2, corners[:, 0].max() + fp.NX_DATA / 2,
              corners[:, 1].min() - fp.NY_DATA / 2, corners[:, 1].max() + fp.NY_DATA / 2)
    size_star = np.asarray(d['SIGMA_STAR_HSM'], float) ** 2
    size_psf = np.asarray(d['SIGMA_PSF_HSM'], float) ** 2
    rows = [
        ('e1', d['E1_STAR_HSM'], d['E1_PSF_HSM'], max_e, max_d),
        ('e2', d['E2_STAR_HSM'], d['E2_PSF_HSM'], max_e, max_d),
        ('T/<T>', size_star / np.median(size_star), size_psf / np.median(size_star), 0.1, max_d),
    ]
    os.makedirs(output_dir, exist_ok=True)
    figure = Figure(figsize=(15, 13))
    FigureCanvasAgg(figure)
    for r, (label, star, model, limit, limit_res) in enumerate(rows):
        star = np.asarray(star, float)
        model = np.asarray(model, float)
        centre = 1.0 if label.startswith('T') else 0.0
        for c, (title, values, lim, mid) in enumerate([
                (f'star {label}', star, limit, centre), (f'model {label}', model, limit, centre),
                (f'star - model {label}', star - model, limit_res, 0.0)]):
            ax = figure.add_subplot(3, 3, 3 * r + c + 1)
            grid = binned_mean(u, v, values, n_bins, extent)
            image = ax.imshow(grid, origin='lower', extent=extent, cmap='coolwarm',
                              vmin=mid - lim, vmax=mid + lim)
            ax.set_title(f'{title}: mean {np.mean(values):.2e}, rms {np.std(values):.2e}',
                         fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            figure.colorbar(image, ax=ax, shrink=0.8)
    maps = os.path.join(output_dir, 'psf_validation_maps.png')
    with atomic_path(maps) as tmp:
        figure.savefig(tmp, dpi=80)
    figure = Figure(figsize=(14, 7))
    FigureCanvasAgg(figure)
    for c, (title, e1, e2, scale) in enumerate([
            ('star ellipticity', d['E1_STAR_HSM'], d['E2_STAR_HSM'], max_e),
            ('residual ellipticity (star - model)', d['E1_STAR_HSM'] - d['E1_PSF_HSM'],
             d['E2_STAR_HSM'] - d['E2_PSF_HSM'], max_d)]):
        ax = figure.add_subplot(1, 2, c + 1)
        g1 = binned_mean(u, v, np.asarray(e1, float), n_bins, extent)
        g2 = binned_mean(u, v, np.asarray(e2, float), n_bins, extent)
        ny, nx = g1.shape
        uu = np.linspace(extent[0], extent[1], nx + 1)[:-1] + (extent[1] - extent[0]) / nx / 2
        vv = np.linspace(extent[2], extent[3], ny + 1)[:-1] + (extent[3] - extent[2]) / ny / 2
        amplitude = np.hypot(g1, g2)
        angle = 0.5 * np.arctan2(g2, g1)
        ax.quiver(*np.meshgrid(uu, vv), amplitude * np.cos(angle), amplitude * np.sin(angle),
                  headwidth=0, headlength=0, headaxislength=0, pivot='middle',
                  scale=scale * nx * 1.5, width=0.003)
        ax.set_title(f'{title} (whisker {scale:g} = one bin)')
        ax.set_aspect('equal')
        ax.set_xticks([])
        ax.set_yticks([])
    whiskers = os.path.join(output_dir, 'psf_validation_whiskers.png')
    with atomic_path(whiskers) as tmp:
        figure.savefig(tmp, dpi=80)
    return [maps, whiskers]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='MeanShapes', description=__doc__.split('\n')[0])
    parser.add_argument('-i', '--input', required=True, help='merged validation catalogue')
    parser.add_argument('-o', '--output', default='.', help='output directory')
    parser.add_argument('-x', '--nbin_x', type=int, default=20, help='bins along x')
    parser.add_argument('--max_e', type=float, default=0.05, help='colour range of ellipticities')
    parser.add_argument('--max_d', type=float, default=0.005, help='colour range of residuals')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    try:
        paths = make_plots(args.input, args.output, args.nbin_x, args.max_e, args.max_d)
    except InputError as error:
        print(f'MeanShapes: error: {error}', file=sys.stderr)
        return 2
    if args.verbose:
        print('\n'.join(paths))
    return 0


if __name__ == '__main__':
    sys.exit(main())
