"""Maximum-a-posteriori fits of a Gaussian galaxy over several epochs.

The model of one object is a Gaussian in world coordinates (arcsec) with
parameters ``(u0, v0, g1, g2, T, flux)`` (ngmix's ``gauss`` model: ``T`` is
the trace of the covariance, ``g`` the reduced shear; the covariance is
``T/2 [[1 + e1, e2], [e2, 1 - e1]]`` with ``e = 2 g / (1 + |g|^2)``). On each
epoch it is convolved with that epoch's Gaussian PSF (covariances add) and
sampled at the pixel centres, whose world offsets come from the epoch's WCS
Jacobian. All epochs are fitted jointly with the priors ShapePipe uses: a
Gaussian centre prior, the Bernstein & Armstrong shape prior
``p(g) ~ (1 - g^2)^2 exp(-g^2 / 2 sigma^2)`` and flat priors on ``T`` and
flux.

The minimiser is Levenberg-Marquardt (Marquardt scaling, Nielsen's damping
update) on
``Phi = chi^2 / 2 - ln prior`` with analytic derivatives; the prior enters
through its exact gradient and Hessian, so the optimum is the MAP point
whatever the starting guess. Compiled with numba; one call fits a batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

N_PARS = 6
# fit status bits (the caller maps them to catalogue flags)
STATUS_NO_DATA = 1          # no pixel with positive weight
STATUS_MAX_ITER = 2         # not converged within max_iter
STATUS_SINGULAR = 4         # singular or non-positive covariance
STATUS_BAD_MODEL = 8        # the guess or result is not a valid Gaussian
STATUS_NONFINITE = 16       # NaN or infinity met in the data or the fit

LOG_2PI = np.log(2.0 * np.pi)


@njit(cache=True)
def _covariance(g1, g2, T):
    gsq = g1 * g1 + g2 * g2
    e1 = 2.0 * g1 / (1.0 + gsq)
    e2 = 2.0 * g2 / (1.0 + gsq)
    return 0.5 * T * (1.0 + e1), 0.5 * T * e2, 0.5 * T * (1.0 - e1)


@njit(cache=True)
def _convolved(cuu, cuv, cvv, psf_cov, e):
    """Covariance (uu, uv, vv) and determinant of the galaxy convolved with epoch e's PSF."""
    a = cuu + psf_cov[e, 0]
    b = cuv + psf_cov[e, 1]
    c = cvv + psf_cov[e, 2]
    return a, b, c, a * c - b * b


@njit(cache=True)
def _valid(pars, psf_cov, first, last, max_g):
    g1, g2, T = pars[2], pars[3], pars[4]
    if not (np.isfinite(pars).all()):
        return False
    if g1 * g1 + g2 * g2 >= max_g * max_g:
        return False
    cuu, cuv, cvv = _covariance(g1, g2, T)
    for e in range(first, last):
        a, b, c, det = _convolved(cuu, cuv, cvv, psf_cov, e)
        if a <= 0.0 or c <= 0.0 or det <= 1e-12:
            return False
    return True


@njit(cache=True)
def _prior(pars, sigma_cen, sigma_g, grad, hess):
    """-ln prior (up to a constant); adds its gradient and Hessian."""
    value = 0.0
    if sigma_cen > 0.0:
        inv = 1.0 / (sigma_cen * sigma_cen)
        for i in range(2):
            value += 0.5 * pars[i] * pars[i] * inv
            grad[i] += pars[i] * inv
            hess[i, i] += inv
    if sigma_g > 0.0:
        g1, g2 = pars[2], pars[3]
        gsq = g1 * g1 + g2 * g2
        one = 1.0 - gsq
        inv = 1.0 / (sigma_g * sigma_g)
        value += 0.5 * gsq * inv - 2.0 * np.log(one)
        gv = (g1, g2)
        for i in range(2):
            grad[2 + i] += gv[i] * inv + 4.0 * gv[i] / one
            for j in range(2):
                h = 8.0 * gv[i] * gv[j] / (one * one)
                if i == j:
                    h += inv + 4.0 / one
                hess[2 + i, 2 + j] += h
    return value


@njit(cache=True)
def _accumulate(pars, image, weight, u, v, psf_cov, area, first, last, chi_max,
                hess, grad, want_derivs):
    """chi^2 / 2 of the model; adds J^T W J and -J^T W r when asked."""
    u0, v0, g1, g2, T, flux = pars
    gsq = g1 * g1 + g2 * g2
    e1 = 2.0 * g1 / (1.0 + gsq)
    e2 = 2.0 * g2 / (1.0 + gsq)
    cuu, cuv, cvv = 0.5 * T * (1.0 + e1), 0.5 * T * e2, 0.5 * T * (1.0 - e1)
    # d e_i / d g_j
    q = 1.0 + gsq
    de11 = 2.0 / q - 4.0 * g1 * g1 / (q * q)
    de12 = -4.0 * g1 * g2 / (q * q)
    de22 = 2.0 / q - 4.0 * g2 * g2 / (q * q)
    dv = np.zeros(N_PARS)
    half_chi2 = 0.0
    for e in range(first, last):
        a, b, c, det = _convolved(cuu, cuv, cvv, psf_cov, e)
        ia, ib, ic = c / det, -b / det, a / det
        norm0 = area[e] / (2.0 * np.pi * np.sqrt(det))
        # traces tr(C^-1 dC) for dC/dT, dC/de1, dC/de2
        tr_t = 0.5 * (ia * (1.0 + e1) + 2.0 * ib * e2 + ic * (1.0 - e1))
        tr_e1 = 0.5 * T * (ia - ic)
        tr_e2 = T * ib
        img, wgt, uu, vv = image[e], weight[e], u[e], v[e]
        for p in range(img.shape[0]):
            w = wgt[p]
            if w <= 0.0:
                continue
            du = uu[p] - u0
            dv_ = vv[p] - v0
            su = ia * du + ib * dv_
            sv = ib * du + ic * dv_
            chi = du * su + dv_ * sv
            shape = 0.0 if chi > chi_max else norm0 * np.exp(-0.5 * chi)
            m = flux * shape
            resid = img[p] - m
            half_chi2 += 0.5 * w * resid * resid
            if not want_derivs or chi > chi_max:
                continue
            dv[0] = m * su
            dv[1] = m * sv
            q_t = 0.5 * ((1.0 + e1) * su * su + 2.0 * e2 * su * sv + (1.0 - e1) * sv * sv)
            q_e1 = 0.5 * T * (su * su - sv * sv)
            q_e2 = T * su * sv
            d_e1 = 0.5 * m * (q_e1 - tr_e1)
            d_e2 = 0.5 * m * (q_e2 - tr_e2)
            dv[2] = d_e1 * de11 + d_e2 * de12
            dv[3] = d_e1 * de12 + d_e2 * de22
            dv[4] = 0.5 * m * (q_t - tr_t)
            dv[5] = shape
            for i in range(N_PARS):
                wi = w * dv[i]
                grad[i] -= wi * resid
                for j in range(i + 1):
                    hess[i, j] += wi * dv[j]
    if want_derivs:
        for i in range(N_PARS):
            for j in range(i):
                hess[j, i] = hess[i, j]
    return half_chi2


@njit(cache=True)
def _objective(pars, image, weight, u, v, psf_cov, area, first, last, chi_max,
               sigma_cen, sigma_g, hess, grad, want_derivs):
    hess[:, :] = 0.0
    grad[:] = 0.0
    value = _accumulate(pars, image, weight, u, v, psf_cov, area, first, last, chi_max,
                        hess, grad, want_derivs)
    return value + _prior(pars, sigma_cen, sigma_g, grad, hess)


@njit(cache=True)
def fit_one(guess: np.ndarray, image: np.ndarray, weight: np.ndarray, u: np.ndarray, v: np.ndarray, psf_cov: np.ndarray, area: np.ndarray,
            first: int, last: int, sigma_cen: float, sigma_g: float, max_iter: int, tol: float,
            chi_max: float, max_g: float) -> tuple[np.ndarray, np.ndarray, float, int, int]:
    """LM fit of one object over epochs ``first:last``.

    Returns (pars, cov, half_chi2_plus_prior, n_iter, status).
    """
    pars = guess.copy()
    cov = np.full((N_PARS, N_PARS), np.nan)
    hess = np.zeros((N_PARS, N_PARS))
    grad = np.zeros(N_PARS)
    trial_h = np.zeros((N_PARS, N_PARS))
    trial_g = np.zeros(N_PARS)
    if not _valid(pars, psf_cov, first, last, max_g):
        return pars, cov, np.nan, 0, STATUS_BAD_MODEL
    value = _objective(pars, image, weight, u, v, psf_cov, area, first, last, chi_max,
                       sigma_cen, sigma_g, hess, grad, True)
    if not np.isfinite(value):
        return pars, cov, value, 0, STATUS_NONFINITE
    lam = 1e-3
    nu = 2.0
    status = STATUS_MAX_ITER
    n_iter = 0
    scale = np.empty(N_PARS)
    for n_iter in range(1, max_iter + 1):
        damped = hess.copy()
        for i in range(N_PARS):
            scale[i] = max(hess[i, i], 1e-30)
            damped[i, i] += lam * scale[i]
        try:
            step = np.linalg.solve(damped, -grad)
        except Exception:
            status = STATUS_SINGULAR
            break
        # decrease predicted by the damped quadratic model (always > 0)
        predicted = 0.0
        for i in range(N_PARS):
            predicted += 0.5 * step[i] * (lam * scale[i] * step[i] - grad[i])
        trial = pars + step
        if _valid(trial, psf_cov, first, last, max_g):
            new_value = _objective(trial, image, weight, u, v, psf_cov, area, first, last,
                                   chi_max, sigma_cen, sigma_g, trial_h, trial_g, True)
        else:
            new_value = np.inf
        if np.isfinite(new_value) and new_value <= value:
            decrease = value - new_value
            pars = trial
            value = new_value
            hess[:, :] = trial_h
            grad[:] = trial_g
            # Nielsen's update: shrink the damping by how well the model predicted
            rho = decrease / predicted if predicted > 0.0 else 0.0
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            lam = max(lam, 1e-12)
            nu = 2.0
            if decrease <= tol * (1.0 + abs(value)):
                status = 0
                break
        else:
            lam *= nu
            nu *= 2.0
            if lam > 1e12:
                # no decrease possible: at the minimum to machine precision
                status = 0
                break
    if status == 0 or status == STATUS_MAX_ITER:
        try:
            cov = np.linalg.inv(hess)
        except Exception:
            return pars, cov, value, n_iter, status | STATUS_SINGULAR
        for i in range(N_PARS):
            if not cov[i, i] > 0.0:
                return pars, cov, value, n_iter, status | STATUS_SINGULAR
    return pars, cov, value, n_iter, status


@njit(cache=True)
def fit_batch(guesses: np.ndarray, image: np.ndarray, weight: np.ndarray, u: np.ndarray, v: np.ndarray, psf_cov: np.ndarray, area: np.ndarray,
              epoch_start: np.ndarray, sigma_cen: np.ndarray, sigma_g: float, max_iter: int, tol: float,
              chi_max: float, max_g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit objects ``o`` on epochs ``epoch_start[o]:epoch_start[o+1]``.

    ``image``, ``weight``, ``u``, ``v``: (n_epochs_total, n_pix) with world
    offsets of the pixel centres from each object's nominal position;
    ``psf_cov`` (n_epochs_total, 3) PSF covariances (uu, uv, vv); ``area``
    pixel areas (arcsec^2); ``sigma_cen`` per object (<= 0: no prior).
    """
    n_obj = guesses.shape[0]
    pars = np.empty((n_obj, N_PARS))
    cov = np.empty((n_obj, N_PARS, N_PARS))
    value = np.empty(n_obj)
    n_iter = np.zeros(n_obj, dtype=np.int32)
    status = np.zeros(n_obj, dtype=np.int32)
    s2n = np.zeros(n_obj)
    for o in range(n_obj):
        first, last = epoch_start[o], epoch_start[o + 1]
        has_data = False
        for e in range(first, last):
            for p in range(weight.shape[1]):
                if weight[e, p] > 0.0:
                    has_data = True
                    break
        if not has_data:
            pars[o] = guesses[o]
            cov[o] = np.nan
            value[o] = np.nan
            status[o] = STATUS_NO_DATA
            continue
        res = fit_one(guesses[o], image, weight, u, v, psf_cov, area, first, last,
                      sigma_cen[o], sigma_g, max_iter, tol, chi_max, max_g)
        pars[o] = res[0]
        cov[o] = res[1]
        value[o] = res[2]
        n_iter[o] = res[3]
        status[o] = res[4]
        s2n[o] = model_s2n(pars[o], image, weight, u, v, psf_cov, area, first, last, chi_max)
    return pars, cov, value, n_iter, status, s2n


@njit(cache=True)
def model_s2n(pars: np.ndarray, image: np.ndarray, weight: np.ndarray, u: np.ndarray, v: np.ndarray, psf_cov: np.ndarray, area: np.ndarray,
              first: int, last: int, chi_max: float) -> float:
    """sum(w m d) / sqrt(sum(w m^2)) over the epochs (ngmix's s2n_w)."""
    u0, v0, g1, g2, T, flux = pars
    cuu, cuv, cvv = _covariance(g1, g2, T)
    numer = 0.0
    denom = 0.0
    for e in range(first, last):
        a, b, c, det = _convolved(cuu, cuv, cvv, psf_cov, e)
        if det <= 0.0 or a <= 0.0:
            return 0.0
        ia, ib, ic = c / det, -b / det, a / det
        norm = flux * area[e] / (2.0 * np.pi * np.sqrt(det))
        for p in range(image.shape[1]):
            w = weight[e, p]
            if w <= 0.0:
                continue
            du = u[e, p] - u0
            dv = v[e, p] - v0
            chi = ia * du * du + 2.0 * ib * du * dv + ic * dv * dv
            if chi > chi_max:
                continue
            m = norm * np.exp(-0.5 * chi)
            numer += w * m * image[e, p]
            denom += w * m * m
    if denom <= 0.0:
        return 0.0
    return numer / np.sqrt(denom)
