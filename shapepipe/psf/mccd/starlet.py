"""Starlet (isotropic undecimated B3-spline "a trous") wavelet filters.

MCCD's sparsity constraint works in the starlet domain. Its default filters
come from Sparse2D's ``BsplineWaveletTransformATrousAlgorithm`` through the
python-pysap bindings, which the PyPI wheels lack; :func:`starlet_filters`
computes the same filters: the starlet transform of a centred unit impulse
(Starck, Fadili & Murtagh 2007, IEEE Trans. Image Proc. 16, 297;
Starck, Murtagh & Fadili, *Sparse Image and Signal Processing*, ch. 3).

Scale ``j`` smooths with the separable B3-spline kernel
``h = [1, 4, 6, 4, 1] / 16`` whose taps are ``2**j`` pixels apart;
``w_j = c_j - c_{j+1}``; the last filter is the coarse scale ``c_J``.
The filters sum to the impulse (exact reconstruction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

#: The 1-D B3-spline smoothing kernel of the starlet transform.
B3_SPLINE = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def atrous_kernel(scale: int) -> np.ndarray:
    """The B3-spline kernel of ``scale`` (0-based): taps ``2**scale`` apart."""
    step = 2 ** scale
    kernel = np.zeros(4 * step + 1)
    kernel[::step] = B3_SPLINE
    return kernel


def starlet_transform(image: ArrayLike, n_scales: int) -> np.ndarray:
    """``n_scales`` planes: ``n_scales - 1`` wavelet scales, then the coarse scale.

    Borders are mirrored, as in Sparse2D.
    """
    planes = []
    current = np.asarray(image, float)
    for scale in range(n_scales - 1):
        kernel = atrous_kernel(scale)
        smooth = ndimage.convolve1d(current, kernel, axis=0, mode='mirror')
        smooth = ndimage.convolve1d(smooth, kernel, axis=1, mode='mirror')
        planes.append(current - smooth)
        current = smooth
    planes.append(current)
    return np.array(planes)


def starlet_filters(
    shape: Sequence[int], n_scales: int = 3, coarse: bool = True,
) -> np.ndarray:
    """The filters MCCD would get from Sparse2D: the transform of a centred impulse.

    ``shape`` is made odd as MCCD does (``get_mr_filters``); the impulse sits
    at ``shape // 2``. With ``coarse=False`` the coarse scale is dropped.
    """
    shape = np.array(shape[:2], int)
    shape += shape % 2 - 1
    impulse = np.zeros(shape)
    impulse[tuple(shape // 2)] = 1.0
    filters = starlet_transform(impulse, n_scales)
    return filters if coarse else filters[:-1]
