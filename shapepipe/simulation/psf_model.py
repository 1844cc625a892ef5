"""The true PSF: a Moffat profile whose size and ellipticity vary smoothly
over the focal plane and between exposures.

Ellipticities are reduced shears (g1, g2) in galsim's local sky frame (u to
the west, v to the north), the frame of the truth catalogue's shears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from dataclasses import dataclass

import galsim
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MOFFAT_BETA = 3.0


@dataclass
class ExposurePSF:
    """PSF field of one exposure; focal-plane coordinates in degrees from the
    pointing centre (u_deg to the west, v_deg to the north)."""

    fwhm: float           # arcsec at the field centre
    fwhm_slope: float     # relative change per degree of radius squared
    e_coeffs: tuple       # (a0, a1, a2, b0, b1, b2): g1 = a0 + a1 u + a2 v, g2 = b0 + b1 u + b2 v

    @classmethod
    def draw(cls, rng: np.random.Generator, fwhm_range: tuple[float, float] = (0.6, 0.8),
             e_max: float = 0.05) -> ExposurePSF:
        """Random PSF field: |g| <= e_max over the focal plane (radius 0.8 deg)."""
        fwhm = rng.uniform(*fwhm_range)
        coeffs = rng.uniform(-1, 1, 6) * np.array([0.5, 0.3, 0.3, 0.5, 0.3, 0.3]) * e_max / 0.8
        coeffs[[0, 3]] = rng.uniform(-1, 1, 2) * e_max * 0.4
        return cls(fwhm=fwhm, fwhm_slope=rng.uniform(0.02, 0.08), e_coeffs=tuple(coeffs))

    def params(self, u_deg: ArrayLike, v_deg: ArrayLike,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fwhm, g1, g2) at focal-plane positions (arrays)."""
        u_deg = np.asarray(u_deg, dtype=float)
        v_deg = np.asarray(v_deg, dtype=float)
        a0, a1, a2, b0, b1, b2 = self.e_coeffs
        g1 = a0 + a1 * u_deg + a2 * v_deg
        g2 = b0 + b1 * u_deg + b2 * v_deg
        norm = np.hypot(g1, g2)
        cap = np.where(norm > 0.05, 0.05 / np.maximum(norm, 1e-12), 1.0)
        fwhm = self.fwhm * (1.0 + self.fwhm_slope * (u_deg ** 2 + v_deg ** 2))
        return fwhm, g1 * cap, g2 * cap

    def as_row(self) -> tuple[float, ...]:
        """The parameters as a flat tuple (for the truth file)."""
        return (self.fwhm, self.fwhm_slope) + tuple(self.e_coeffs)


def psf_profile(fwhm: float, g1: float, g2: float,
                gsparams: galsim.GSParams | None = None) -> galsim.GSObject:
    """galsim Moffat PSF in arcsec, sheared to (g1, g2)."""
    return galsim.Moffat(beta=MOFFAT_BETA, fwhm=fwhm, gsparams=gsparams).shear(g1=g1, g2=g2)
