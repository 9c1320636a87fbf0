r"""Rényi-2 entanglement from exact samples (swap estimator) and central-charge fits.

**Swap estimator** (Hastings et al., PRL 104, 157201 (2010)). For a block :math:`A` of sites and
its complement :math:`B`, two independent samples :math:`x, y \sim |\psi|^2` give an unbiased
estimate of the purity,

.. math::

    \mathrm{Tr}\,\rho_A^2 = \mathbb{E}_{x,y}\left[
        \frac{\psi(y_A x_B)\,\psi(x_A y_B)}{\psi(x)\,\psi(y)} \right]^{*},
    \qquad S_2 = -\ln \mathrm{Tr}\,\rho_A^2 .

Exact autoregressive samples are independent, so the error of the mean is the plain standard
error; the entropy error follows from the delta method, :math:`\sigma_{S_2} = \sigma_{\bar r} /
\bar r`, or from the jackknife (which also removes the :math:`O(1/n)` bias of the logarithm).

**Constrained bases.** A swapped string may leave the sector (a fusion path whose labels no longer
fuse across the cut, a broken Gauss law). The estimator needs :math:`\psi = 0` there, which an
exactly masked model gives (amplitude :math:`e^{\texttt{MASK\_LOGIT}/2} = 0.0`), so it estimates
the Rényi entropy of the sector state embedded in the product of site spaces. For anyonic chains
(models.md §9) the natural cut keeps the boundary labels on both sides: pass them as
``shared_sites``; pairs that differ there contribute zero, which is the purity of
:math:`\rho_A = \bigoplus_{\text{boundary labels}} \rho_{A,s}`.

**Central charge.** For a critical ring of length :math:`L`, :math:`S(l) = \frac{c}{3}
\ln\big[\frac{L}{\pi}\sin\frac{\pi l}{L}\big] + b` (Calabrese & Cardy 2004, for von Neumann; the
Rényi-2 prefactor is :math:`\frac{c}{4}`, :math:`(1 + 1/n)c/6` at :math:`n = 2`), plus parity
oscillations for Rényi entropies: fit even and odd :math:`l` separately, or add :math:`a(-1)^l`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
import scipy.optimize

from nqs.errors import NQSError, check_choice


@dataclasses.dataclass(frozen=True)
class Renyi2Estimate:
    """Result of :func:`renyi2`: entropy, purity, their errors and the number of pairs."""

    entropy: float
    error: float
    purity: float
    purity_error: float
    n_pairs: int

    def __repr__(self):
        return (
            f"Renyi2Estimate(S2 = {self.entropy:.6f} ± {self.error:.6f}, purity = "
            f"{self.purity:.6f} ± {self.purity_error:.6f}, n_pairs = {self.n_pairs})"
        )


def _site_mask(block, n_sites: int, name: str) -> np.ndarray:
    mask = np.zeros(n_sites, dtype=bool)
    sites = np.asarray(list(block), dtype=int).ravel()
    if sites.size and (sites.min() < 0 or sites.max() >= n_sites):
        raise NQSError(f"{name} must hold site indices in [0, {n_sites - 1}], got {list(block)}.")
    mask[sites] = True
    return mask


def swap_ratios(log_psi: Callable, x, y, block: Sequence[int], *, shared_sites=()) -> jnp.ndarray:
    r"""Per-pair swap ratios :math:`r_k = [\psi(y_A x_B)\psi(x_A y_B) / \psi(x)\psi(y)]^*`.

    Args:
        log_psi: maps configurations ``(batch, N)`` to :math:`\log\psi` (e.g.
            ``lambda s: model.apply(params, s)`` or ``vstate.log_value``); called once on
            ``4 n`` configurations.
        x, y: two independent sample sets ``(n, N)`` drawn from :math:`|\psi|^2`.
        block: the sites of :math:`A`.
        shared_sites: sites belonging to both sides (e.g. boundary fusion labels); pairs with
            ``x != y`` on them get ratio 0.

    Returns:
        Complex ratios ``(n,)``; their mean estimates :math:`\mathrm{Tr}\rho_A^2`.
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 2 or x.shape != y.shape:
        raise NQSError(
            f"x and y must be two sample sets of the same shape (n, N); got {x.shape}, {y.shape}."
        )
    a = jnp.asarray(_site_mask(block, x.shape[1], "block"))
    shared = _site_mask(shared_sites, x.shape[1], "shared_sites")
    logs = log_psi(jnp.concatenate([x, y, jnp.where(a, y, x), jnp.where(a, x, y)]))
    lx, ly, lyx, lxy = jnp.split(jnp.asarray(logs), 4)
    ratio = jnp.conj(jnp.exp(lyx + lxy - lx - ly))
    if shared.any():
        ratio = jnp.where((x[:, shared] == y[:, shared]).all(axis=1), ratio, 0)
    return ratio


def renyi2(
    log_psi: Callable, x, y, block: Sequence[int], *, shared_sites=(), error: str = "delta"
) -> Renyi2Estimate:
    r"""Rényi-2 entropy :math:`S_2 = -\ln\mathrm{Tr}\rho_A^2` of ``block`` from two sample sets.

    Args:
        log_psi, x, y, block, shared_sites: as in :func:`swap_ratios`.
        error: ``"delta"`` (:math:`\sigma_S = \sigma_{\bar r}/\bar r`) or ``"jackknife"``
            (leave-one-pair-out; the entropy is then bias-corrected to :math:`O(1/n^2)`).

    Example:
        >>> import jax, netket as nk, nqs, samplers
        >>> from nqs.entanglement import renyi2
        >>> hi = nk.hilbert.Spin(0.5, 6, total_sz=0)
        >>> model = nqs.ARTransformer(hilbert=hi, n_layers=1, d_model=8, n_heads=2)
        >>> vs = nk.vqs.MCState(samplers.ARDirectSampler(hi), model, n_samples=512, seed=0)
        >>> x, y = vs.sample(), vs.sample()  # independent exact samples
        >>> est = renyi2(vs.log_value, x.reshape(-1, 6), y.reshape(-1, 6), block=[0, 1, 2])
    """
    check_choice("error", error, ("delta", "jackknife"))
    r = np.asarray(swap_ratios(log_psi, x, y, block, shared_sites=shared_sites)).real
    n = r.size
    if n < 2:
        raise NQSError(f"The swap estimator needs at least 2 sample pairs, got {n}.")
    mean, sem = float(r.mean()), float(r.std(ddof=1) / np.sqrt(n))
    if mean <= 0:
        raise NQSError(
            f"The estimated purity {mean:.3g} ± {sem:.3g} is not positive, so S2 = -ln(purity) "
            "is undefined: the block is too entangled for this many samples; use more samples "
            "or a smaller block."
        )
    if error == "delta":
        entropy, err = -np.log(mean), sem / mean
    else:
        leave_one_out = (r.sum() - r) / (n - 1)
        if (leave_one_out <= 0).any():
            raise NQSError("A jackknife purity is not positive; use more samples or error='delta'.")
        s_i = -np.log(leave_one_out)
        entropy = n * (-np.log(mean)) - (n - 1) * s_i.mean()
        err = np.sqrt((n - 1) / n * np.sum((s_i - s_i.mean()) ** 2))
    return Renyi2Estimate(float(entropy), float(err), mean, sem, n)


def exact_renyi2(configs, amplitudes, block: Sequence[int], *, shared_sites=()) -> float:
    r"""Exact :math:`S_2` of a state given on a list of configurations (reference values).

    With :math:`M_s[a, b] = \psi(s, a, b)` for shared labels :math:`s`, block configuration
    :math:`a` and the rest :math:`b`, :math:`\rho_A = \bigoplus_s M_s M_s^\dagger` and
    :math:`S_2 = -\ln\sum_s \lVert M_s M_s^\dagger\rVert_F^2` (amplitudes are normalised first).
    Dense in the distinct block and rest configurations: for small systems only.

    Args:
        configs: ``(n, N)`` distinct configurations (e.g. ``hilbert.all_states()``).
        amplitudes: ``(n,)`` wave-function values on them.
        block, shared_sites: as in :func:`swap_ratios`.
    """
    configs = np.asarray(configs)
    psi = np.asarray(amplitudes, dtype=complex)
    psi = psi / np.linalg.norm(psi)
    n_sites = configs.shape[1]
    a = _site_mask(block, n_sites, "block")
    s = _site_mask(shared_sites, n_sites, "shared_sites")
    if (a & s).any():
        raise NQSError("block and shared_sites must be disjoint.")

    def labels(mask):
        if not mask.any():
            return np.zeros(len(configs), dtype=int), 1
        _, inverse = np.unique(configs[:, mask], axis=0, return_inverse=True)
        return inverse.ravel(), int(inverse.max()) + 1

    (si, ns), (ai, na), (bi, nb) = labels(s), labels(a), labels(~(a | s))
    m = np.zeros((ns, na, nb), dtype=complex)
    m[si, ai, bi] = psi
    rho = m @ np.conj(np.swapaxes(m, 1, 2))
    return float(-np.log(np.sum(np.abs(rho) ** 2)))


@dataclasses.dataclass(frozen=True)
class CentralChargeFit:
    """Result of :func:`fit_central_charge`.

    Attributes:
        c: central charge (for ``parity="separate"``, the inverse-variance mean of the even and
            odd fits).
        c_error: its one-sigma error.
        parity: the fit model used.
        parameters: every fitted parameter with its error, e.g. ``{"c_even": (c, err), ...}``.
    """

    c: float
    c_error: float
    parity: str
    parameters: dict

    def __repr__(self):
        return f"CentralChargeFit(c = {self.c:.4f} ± {self.c_error:.4f}, parity={self.parity!r})"


def _linear_fit(columns, s, sigma):
    """Weighted least squares; errors from sigma (absolute) or from the residuals."""
    design = np.stack(columns, axis=1)
    n, p = design.shape
    if n < p + (sigma is None):
        raise NQSError(
            f"{n} data points cannot fit {p} parameters"
            f"{' with an error estimate' if sigma is None else ''}; give more block sizes ell, "
            "or errors S_err."
        )
    fit = scipy.optimize.curve_fit(
        lambda d, *q: d @ np.asarray(q),
        design,
        s,
        p0=np.zeros(p),
        sigma=sigma,
        absolute_sigma=sigma is not None,
    )
    return fit[0], np.sqrt(np.diag(fit[1]))


def fit_central_charge(
    L: int, ell, S, parity: str = "separate", *, S_err=None, renyi_index: float = 1
) -> CentralChargeFit:
    r"""Fit :math:`S(l) = \frac{c}{6}(1 + \frac1n)\ln[\frac L\pi\sin\frac{\pi l}{L}] + b` (PBC).

    Args:
        L: ring length.
        ell: block lengths :math:`l`, shape ``(m,)``, ``0 < l < L``.
        S: entropies ``(m,)``.
        parity: ``"separate"`` (even and odd ``l`` fitted independently, then combined),
            ``"correction"`` (one fit with an extra :math:`a(-1)^l` term) or ``"none"``.
        S_err: one-sigma errors of ``S`` (then parameter errors are absolute); without them the
            errors come from the scatter of the residuals.
        renyi_index: :math:`n` (1 = von Neumann, :math:`c/3`; 2 = Rényi-2, :math:`c/4`).

    Returns:
        :class:`CentralChargeFit`.
    """
    check_choice("parity", parity, ("separate", "correction", "none"))
    ell, S = np.asarray(ell, dtype=float), np.asarray(S, dtype=float)
    if ell.shape != S.shape or ell.ndim != 1 or ((ell <= 0) | (ell >= L)).any():
        raise NQSError(f"ell and S must be 1D of equal length with 0 < ell < L={L}.")
    sigma = None if S_err is None else np.asarray(S_err, dtype=float)
    slope = (1 + 1 / renyi_index) / 6
    chord = slope * np.log(L / np.pi * np.sin(np.pi * ell / L))
    ones = np.ones_like(ell)
    if parity == "none":
        q, e = _linear_fit([chord, ones], S, sigma)
        return CentralChargeFit(q[0], e[0], parity, {"c": (q[0], e[0]), "b": (q[1], e[1])})
    if parity == "correction":
        q, e = _linear_fit([chord, ones, (-1.0) ** ell], S, sigma)
        parameters = {k: (v, s) for k, v, s in zip(("c", "b", "a"), q, e, strict=True)}
        return CentralChargeFit(q[0], e[0], parity, parameters)
    parameters = {}
    for name, sel in (("even", ell % 2 == 0), ("odd", ell % 2 == 1)):
        q, e = _linear_fit([chord[sel], ones[sel]], S[sel], None if sigma is None else sigma[sel])
        parameters[f"c_{name}"], parameters[f"b_{name}"] = (q[0], e[0]), (q[1], e[1])
    (ce, se), (co, so) = parameters["c_even"], parameters["c_odd"]
    if se > 0 and so > 0:
        w = np.array([1 / se**2, 1 / so**2])
        c, err = float((w @ [ce, co]) / w.sum()), float(1 / np.sqrt(w.sum()))
    else:  # exact data: errors vanish
        c, err = (ce + co) / 2, 0.0
    return CentralChargeFit(float(c), float(err), parity, parameters)
