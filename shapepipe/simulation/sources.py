"""The truth: galaxies and stars with positions, magnitudes, shapes and shear.

Galaxy counts follow d log10 N / dm = 0.33 (about 55 per arcmin^2 at r < 25.5),
sizes follow a size-magnitude relation with log-normal scatter, profiles are
exponential disks with a de Vaucouleurs bulge fraction, intrinsic ellipticity
has a dispersion of 0.26 per component. Stars follow flat-ish counts from r = 14
to 24 at a high-latitude density.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

GALAXY_DENSITY = 55.0      # per arcmin^2 for r < 25.5
GALAXY_MAG_RANGE = (18.0, 25.5)
GALAXY_COUNT_SLOPE = 0.33
STAR_DENSITY = 1.9         # per arcmin^2 for 14 < r < 24
STAR_MAG_RANGE = (14.0, 24.0)
STAR_COUNT_SLOPE = 0.12
SHAPE_NOISE = 0.26
SHEAR_POSITIONS = ('none', 'field', 'groups')
GROUP_LINK_ARCSEC = 6.0    # friends-of-friends linking length of ``shear_positions='groups'``


def _power_law_mags(rng, n, mag_range, slope):
    """Magnitudes with d log10 N / dm = slope inside mag_range."""
    lo, hi = mag_range
    a = 10 ** (slope * lo)
    b = 10 ** (slope * hi)
    return np.log10(a + rng.uniform(size=n) * (b - a)) / slope


def _uniform_sky(rng, n, ra0, dec0, half_width_deg):
    """Uniform positions in a square of half width (deg) around (ra0, dec0)."""
    dec_lo, dec_hi = dec0 - half_width_deg, dec0 + half_width_deg
    sin_dec = rng.uniform(np.sin(np.radians(dec_lo)), np.sin(np.radians(dec_hi)), n)
    dec = np.degrees(np.arcsin(sin_dec))
    ra = ra0 + rng.uniform(-half_width_deg, half_width_deg, n) / np.cos(np.radians(dec0))
    return ra, dec


def _shape_noise(rng, n):
    """Intrinsic (e1, e2) with dispersion 0.26 per component, |e| < 0.9."""
    e = rng.normal(0.0, SHAPE_NOISE, (n, 2))
    bad = np.hypot(e[:, 0], e[:, 1]) >= 0.9
    while bad.any():
        e[bad] = rng.normal(0.0, SHAPE_NOISE, (bad.sum(), 2))
        bad = np.hypot(e[:, 0], e[:, 1]) >= 0.9
    return e[:, 0], e[:, 1]


def make_galaxies(rng: np.random.Generator, ra0: float, dec0: float, half_width_deg: float,
                  g1: float, g2: float, rotated_pairs: bool = False,
                  density: float = GALAXY_DENSITY, shear_field: str = 'constant',
                  pair_offset_arcsec: float = 3.0, shear_positions: str = 'groups',
                  group_link_arcsec: float = GROUP_LINK_ARCSEC) -> dict[str, np.ndarray]:
    """Galaxy truth columns in a square field.

    With ``rotated_pairs`` every second galaxy is a copy of the previous one
    rotated by 90 degrees (same position offset by ``pair_offset_arcsec`` in RA,
    3 arcsec by default: close pairs are blends). ``shear_field``
    is ``constant`` (g1, g2) or ``sinusoid`` (a position-dependent shear of
    amplitude |(g1, g2)|, see :func:`sinusoid_shear`).

    Lensing shears the whole scene, separations between galaxies included;
    ``shear_positions`` says how the positions are lensed (see
    :func:`lens_positions`): ``'groups'`` (default) shears every
    friends-of-friends group (linking length ``group_link_arcsec``) about
    its centre, ``'field'`` shears all offsets from (ra0, dec0), ``'none'``
    leaves positions unsheared (shapes only; the simulator before 2026-12).
    The shear of each galaxy is evaluated at its unlensed position.
    """
    area = (2 * half_width_deg * 60) ** 2
    n = rng.poisson(density * area)
    if rotated_pairs:
        n += n % 2
    ra, dec = _uniform_sky(rng, n, ra0, dec0, half_width_deg)
    mag = _power_law_mags(rng, n, GALAXY_MAG_RANGE, GALAXY_COUNT_SLOPE)
    # Size-magnitude: median half-light radius 0.9" at r = 20, 0.3" at r = 25.
    hlr = 0.9 * 10 ** (-0.095 * (mag - 20.0)) * np.exp(rng.normal(0.0, 0.3, n))
    hlr = np.clip(hlr, 0.12, 3.0)
    bulge_frac = np.where(rng.uniform(size=n) < 0.3, rng.uniform(0.1, 0.6, n), 0.0)
    e1, e2 = _shape_noise(rng, n)
    if rotated_pairs:
        ra[1::2] = ra[0::2] + pair_offset_arcsec / 3600.0 / np.cos(np.radians(dec[0::2]))
        dec[1::2] = dec[0::2]
        mag[1::2] = mag[0::2]
        hlr[1::2] = hlr[0::2]
        bulge_frac[1::2] = bulge_frac[0::2]
        e1[1::2] = -e1[0::2]
        e2[1::2] = -e2[0::2]
    if shear_field == 'constant':
        shear_1, shear_2 = np.full(n, g1), np.full(n, g2)
    elif shear_field == 'sinusoid':
        shear_1, shear_2 = sinusoid_shear(ra, dec, ra0, dec0, np.hypot(g1, g2))
    else:
        raise ValueError(f'unknown shear field {shear_field!r}')
    ra, dec = lens_positions(ra, dec, ra0, dec0, shear_1, shear_2, shear_positions,
                             group_link_arcsec, anchor_mag=mag)
    return {
        'ra': ra, 'dec': dec, 'mag': mag, 'hlr': hlr, 'bulge_frac': bulge_frac,
        'e1_int': e1, 'e2_int': e2,
        'g1': shear_1, 'g2': shear_2, 'is_star': np.zeros(n, bool),
    }


def position_groups(u: ArrayLike, v: ArrayLike, link: float) -> np.ndarray:
    """Friends-of-friends group label of each point (u, v), linking length ``link``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    points = np.column_stack([u, v])
    pairs = cKDTree(points).query_pairs(link, output_type='ndarray')
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(points), len(points)))
    return connected_components(graph, directed=False)[1]


def lens_positions(ra: ArrayLike, dec: ArrayLike, ra0: float, dec0: float, g1: ArrayLike,
                   g2: ArrayLike, mode: str = 'groups',
                   link_arcsec: float = GROUP_LINK_ARCSEC, anchor_mag: ArrayLike | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Lensed positions of galaxies: separations sheared as the shapes are.

    In the tangent plane at (ra0, dec0), (u west, v north, the frame of the
    shapes' shear), an offset d goes to ``M d`` with ``M =
    galsim.Shear(g1, g2).getMatrix()`` (area-preserving, as the shapes'
    shear; no convergence).

    ``mode``:

    * ``'field'``: d is the offset from (ra0, dec0); one constant shear
      (g1, g2 must be constant). Galaxies at r from the centre move by g r
      (3.6" at 3' for g = 0.02), so twin +g/-g fields no longer have their
      galaxies on the same pixels.
    * ``'groups'``: galaxies are linked into friends-of-friends groups
      (linking length ``link_arcsec``); each group is sheared about its
      brightest member (smallest ``anchor_mag``; its mean position without
      ``anchor_mag``), with the mean shear of its members (for a
      position-dependent field, the local linear lensing map). A constant
      translation of a scene is unobservable, so every separation within a
      group is exactly lensed, separations between groups (> ``link_arcsec``)
      are not, and isolated galaxies and the brightest galaxy of each group
      stay where they are: twin fields keep them on the same pixels with the
      same pixel noise (a fainter member moves by ~g times its distance to
      the anchor, 0.06" for g = 0.02 at 3").
    * ``'none'``: positions unchanged (shapes-only shear).
    """
    from shapepipe.simulation.render import from_tangent_offsets, sky_offsets_deg

    if mode not in SHEAR_POSITIONS:
        raise ValueError(f'unknown shear_positions {mode!r}: use {", ".join(SHEAR_POSITIONS)}')
    ra, dec = np.array(ra, float), np.array(dec, float)
    g1, g2 = np.broadcast_to(g1, ra.shape), np.broadcast_to(g2, ra.shape)
    if mode == 'none' or not len(ra) or not (np.any(g1) or np.any(g2)):
        return ra, dec
    u, v = (3600.0 * w for w in sky_offsets_deg(ra, dec, ra0, dec0))
    if mode == 'field':
        if np.ptp(g1) > 0 or np.ptp(g2) > 0:
            raise ValueError("shear_positions='field' needs a constant shear; use 'groups'")
        labels = np.zeros(len(u), int)
    else:
        labels = position_groups(u, v, link_arcsec)
    count = np.bincount(labels)
    centre_u, centre_v = np.bincount(labels, u) / count, np.bincount(labels, v) / count
    if mode == 'field':
        centre_u[:], centre_v[:] = 0.0, 0.0
    elif anchor_mag is not None:
        order = np.lexsort((np.asarray(anchor_mag, float), labels))   # brightest first
        first = order[np.searchsorted(labels[order], np.arange(len(count)))]
        centre_u, centre_v = u[first], v[first]
    # The group's shear (mean of its members': the shear at its centre to first order) as
    # galsim.Shear(g1=, g2=).getMatrix(), the matrix the shapes are sheared with.
    s1, s2 = np.bincount(labels, g1) / count, np.bincount(labels, g2) / count
    norm = 1.0 / np.sqrt(1.0 - s1 * s1 - s2 * s2)
    du, dv = u - centre_u[labels], v - centre_v[labels]
    a, b, d = (norm * (1 + s1))[labels], (norm * s2)[labels], (norm * (1 - s1))[labels]
    return from_tangent_offsets(centre_u[labels] + a * du + b * dv,
                                centre_v[labels] + b * du + d * dv, ra0, dec0)


def sinusoid_shear(ra: ArrayLike, dec: ArrayLike, ra0: float, dec0: float, amplitude: float,
                   wavelength_deg: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A position-dependent shear: |g| = amplitude, direction turning with position.

    g1 = A cos(2 pi dx / L) cos(2 pi dy / L), g2 = A sin(2 pi dx / L) cos(2 pi dy / L),
    so |g| <= A; dx, dy in degrees from the field centre, L the wavelength.
    """
    dx = (ra - ra0) * np.cos(np.radians(dec0))
    dy = dec - dec0
    phase_1 = 2 * np.pi * dx / wavelength_deg
    phase_2 = 2 * np.pi * dy / wavelength_deg
    return amplitude * np.cos(phase_1) * np.cos(phase_2), amplitude * np.sin(phase_1) * np.cos(
        phase_2)


def make_stars(rng: np.random.Generator, ra0: float, dec0: float, half_width_deg: float,
               density: float = STAR_DENSITY) -> dict[str, np.ndarray]:
    """Star truth columns in a square field."""
    area = (2 * half_width_deg * 60) ** 2
    n = rng.poisson(density * area)
    ra, dec = _uniform_sky(rng, n, ra0, dec0, half_width_deg)
    mag = _power_law_mags(rng, n, STAR_MAG_RANGE, STAR_COUNT_SLOPE)
    zeros = np.zeros(n)
    return {
        'ra': ra, 'dec': dec, 'mag': mag, 'hlr': zeros, 'bulge_frac': zeros,
        'e1_int': zeros, 'e2_int': zeros, 'g1': zeros, 'g2': zeros,
        'is_star': np.ones(n, bool),
    }


def concatenate(*parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Join column dictionaries."""
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
