r"""Lindblad equation in the POVM formulation: local terms → generator blocks → JAX operator.

.. math::

    \frac{d\rho}{dt} = \mathcal L[\rho] = -i[H,\rho]
        + \sum_k \gamma_k\Big(L_k\rho L_k^\dagger - \tfrac12\{L_k^\dagger L_k,\rho\}\Big)

becomes, with :math:`\rho = \sum_b P(b)Q^b` and :math:`P(a) = \mathrm{tr}(\rho M^a)`
(``physics/povm.md`` §3; Luo, Chen, Carrasquilla & Clark, PRL 128, 090501 (2022)),

.. math::

    \frac{dP(a)}{dt} = \sum_b \mathcal L_{ab}P(b),\qquad
    \mathcal L_{ab} = \mathrm{tr}\big(M^a\,\mathcal L[Q^b]\big),

a real matrix whose columns sum to zero (trace preservation). For local terms it is a sum of
:math:`k`-local blocks of size :math:`4^k` (:math:`k\le2`), because :math:`\mathrm{tr}(M^aQ^b)
= \delta_{ab}` on the sites a term does not touch.

Input format (``n_sites`` qubits, basis :math:`|0\rangle=|{\uparrow}\rangle`, site 0 most
significant inside a term):

* ``hamiltonian``: sequence of ``(sites, h)`` with ``h`` a Hermitian :math:`2^k\times2^k` matrix;
* ``jump_ops``: sequence of ``(sites, L, rate)``, the dissipator
  :math:`\gamma(L\rho L^\dagger - \frac12\{L^\dagger L,\rho\})` with ``rate`` :math:`=\gamma\ge0`
  (so :math:`L_i = \sqrt\gamma\,\sigma^-_i` is ``((i,), sigma_minus, gamma)`` with
  :math:`\sigma^- = |{\downarrow}\rangle\langle{\uparrow}|`).

**Assignment of single-site terms to bonds** (``povm.md`` §3): the bonds are the site pairs of the
2-site terms, oriented as first given. A single-site term on site :math:`i` is split equally
over the bonds whose *first* site is :math:`i` (1D ring: one bond, weight 1; square lattice with
bonds right and down: two bonds, weight ½); failing those, over the bonds containing :math:`i`;
failing those, it stays a single-site block. Elements below ``1e-13`` times the block's largest
are dropped (exact zeros in exact arithmetic).

Dense references for tiny systems: :func:`generator_matrix` (from the blocks),
:func:`superoperator` (density-matrix Lindbladian, independent of the POVM) and
:func:`superoperator_to_povm` (:math:`\mathcal L = A\,\mathcal L_\mathrm{super}A^{-1}`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from hamiltonians.povm import POVM, povm
from hamiltonians.povm_operator import GeneratorBlock, POVMGenerator
from nqs.errors import NQSError, positive_int

#: Largest system for the dense superoperator (4^N × 4^N complex) and the generator matrix.
MAX_SUPEROPERATOR_SITES = 5
MAX_GENERATOR_SITES = 8
_DROP = 1e-13


def _sites(n_sites: int, sites, what: str) -> tuple[int, ...]:
    sites = tuple(int(s) for s in np.atleast_1d(sites))
    if any(not 0 <= s < n_sites for s in sites) or len(set(sites)) != len(sites):
        raise NQSError(
            f"{what} acts on sites {sites}, which are not distinct sites of 0..{n_sites - 1}."
        )
    return sites


def _matrix(matrix, k: int, what: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=complex)
    if matrix.shape != (2**k, 2**k):
        raise NQSError(
            f"{what} acts on {k} site(s) and needs a {2**k}x{2**k} matrix, got shape "
            f"{matrix.shape}."
        )
    return matrix


def check_terms(n_sites: int, hamiltonian, jump_ops) -> tuple[tuple, tuple]:
    """Validate and normalise the terms; raises a clear error before any work.

    Returns:
        ``(hamiltonian, jump_ops)`` as tuples of ``(sites, matrix)`` and ``(sites, L, rate)``.
    """
    n_sites = positive_int("n_sites", n_sites)
    terms = []
    for term in hamiltonian:
        sites, h = term
        sites = _sites(n_sites, sites, "A Hamiltonian term")
        if len(sites) > 2:
            raise NQSError(
                f"Hamiltonian terms acting on more than 2 sites are not supported (got sites "
                f"{sites}); write the Hamiltonian as a sum of 1- and 2-site terms."
            )
        h = _matrix(h, len(sites), f"The Hamiltonian term on sites {sites}")
        if not np.allclose(h, h.conj().T, atol=1e-12):
            raise NQSError(f"The Hamiltonian term on sites {sites} is not Hermitian.")
        terms.append((sites, h))
    jumps = []
    for term in jump_ops:
        if len(term) != 3:
            raise NQSError("Jump operators are given as (sites, L, rate) triples.")
        sites, op, rate = term
        sites = _sites(n_sites, sites, "A jump operator")
        if len(sites) > 2:
            raise NQSError(
                f"jump operators acting on more than 2 sites are not supported (got sites "
                f"{sites}); use 1- or 2-site jump operators."
            )
        op = _matrix(op, len(sites), f"The jump operator on sites {sites}")
        if not (np.isfinite(rate) and rate >= 0):
            raise NQSError(
                f"The rate of the jump operator on sites {sites} must be >= 0, got {rate}."
            )
        jumps.append((sites, op, float(rate)))
    return tuple(terms), tuple(jumps)


def local_generator(frame: str | POVM, hamiltonian, jump_ops=()) -> np.ndarray:
    r"""Block :math:`B_{ab} = \mathrm{tr}(M^a\,\mathcal L[Q^b])` on :math:`k` sites, ``(4^k, 4^k)``.

    .. math::

        B_{ab} = -i\,\mathrm{tr}(M^a[H,Q^b])
            + \sum_k\gamma_k\,\mathrm{tr}\Big(M^a\big(L_kQ^bL_k^\dagger
            - \tfrac12\{L_k^\dagger L_k, Q^b\}\big)\Big)

    Args:
        frame: the POVM or its name.
        hamiltonian: Hermitian ``(2^k, 2^k)`` matrix (may be zero).
        jump_ops: sequence of ``(L, rate)`` with ``L`` a ``(2^k, 2^k)`` matrix.

    Returns:
        Real matrix, output index first; its columns sum to zero.
    """
    frame = povm(frame)
    h = np.asarray(hamiltonian, dtype=complex)
    k = h.shape[0].bit_length() - 1
    m, q = frame.elements(k), frame.duals(k)
    x = -1j * (np.einsum("rs,bsc->brc", h, q) - np.einsum("brs,sc->brc", q, h))
    for op, rate in jump_ops:
        op = np.asarray(op, dtype=complex)
        decay = op.conj().T @ op
        x += rate * (
            np.einsum("rs,bst,ct->brc", op, q, op.conj())
            - 0.5 * (np.einsum("rs,bsc->brc", decay, q) + np.einsum("brs,sc->brc", q, decay))
        )
    block = np.einsum("arc,bcr->ab", m, x)
    block = block.real.copy()  # tr(M^a X) is real: M^a and L[Q^b] are Hermitian
    block[np.abs(block) <= _DROP * max(np.abs(block).max(), 1e-300)] = 0.0
    return block


def _embed_in_bond(op: np.ndarray, position: int) -> np.ndarray:
    return np.kron(op, np.eye(2)) if position == 0 else np.kron(np.eye(2), op)


def _swap(op: np.ndarray) -> np.ndarray:
    return op.reshape(2, 2, 2, 2).transpose(1, 0, 3, 2).reshape(4, 4)


def generator_blocks(n_sites: int, hamiltonian, jump_ops, frame: str | POVM = "sic"):
    """The generator as a tuple of :class:`GeneratorBlock` (one per bond, plus single-site
    blocks for sites in no bond), single-site terms assigned to bonds as in the module docstring.
    """
    frame = povm(frame)
    terms, jumps = check_terms(n_sites, hamiltonian, jump_ops)
    bonds: dict[frozenset, tuple[int, int]] = {}
    for sites, *_ in (*terms, *jumps):
        if len(sites) == 2:
            bonds.setdefault(frozenset(sites), sites)
    acc: dict[tuple, list] = {}

    def add(sites, op, rate=None):
        if len(sites) == 2:
            key = bonds[frozenset(sites)]
            op = op if sites == key else _swap(op)
            targets = [(key, op, 1.0)]
        else:
            (i,) = sites
            owners = [b for b in bonds.values() if b[0] == i] or [
                b for b in bonds.values() if i in b
            ]
            targets = [(b, _embed_in_bond(op, b.index(i)), 1 / len(owners)) for b in owners]
            targets = targets or [(sites, op, 1.0)]
        for key, embedded, weight in targets:
            entry = acc.setdefault(key, [np.zeros((2 ** len(key),) * 2, complex), []])
            if rate is None:
                entry[0] += weight * embedded
            else:
                entry[1].append((embedded, weight * rate))

    for sites, h in terms:
        add(sites, h)
    for sites, op, rate in jumps:
        add(sites, op, rate)
    order = [b for b in bonds.values() if b in acc] + sorted(k for k in acc if len(k) == 1)
    return tuple(
        GeneratorBlock(key, local_generator(frame, acc[key][0], acc[key][1])) for key in order
    )


def povm_generator(hilbert, hamiltonian, jump_ops, *, povm: str | POVM = "sic") -> POVMGenerator:
    """The POVM generator as a jittable :class:`~hamiltonians.povm_operator.POVMGenerator`.

    Args:
        hilbert: ``nk.hilbert.Fock(n_max=3, N=n)`` (or another homogeneous 4-state space), or
            the number of sites ``n`` for that Fock space.
        hamiltonian: sequence of ``(sites, h)`` (1- or 2-site Hermitian matrices).
        jump_ops: sequence of ``(sites, L, rate)`` (1- or 2-site).
        povm: ``"sic"`` (default: better conditioned, sparser) or ``"pauli4"``, or a frame.

    Example:
        >>> import numpy as np
        >>> from hamiltonians.lindblad import povm_generator
        >>> sx, sm = np.array([[0, 1], [1, 0]]), np.array([[0, 0], [1, 0]])
        >>> op = povm_generator(1, [((0,), 0.5 * sx)], [((0,), sm, 1.0)])
        >>> op.max_conn_size <= 4
        True
    """
    if isinstance(hilbert, int | np.integer):
        import netket as nk

        hilbert = nk.hilbert.Fock(n_max=3, N=positive_int("n_sites", hilbert))
    return POVMGenerator(hilbert, generator_blocks(hilbert.size, hamiltonian, jump_ops, povm))


def _all_strings(n_sites: int) -> np.ndarray:
    """All outcome strings ``(4^N, N)``, site 0 most significant (Fock ``all_states`` order)."""
    return np.indices((4,) * n_sites).reshape(n_sites, -1).T


def generator_matrix(n_sites: int, blocks, *, sparse: bool = False):
    """The full :math:`4^N\\times4^N` generator from its blocks (tests and exact references).

    Returns:
        A dense array, or a ``scipy.sparse.csr_matrix`` with ``sparse=True``; rows are outputs.
    """
    n_sites = positive_int("n_sites", n_sites)
    if n_sites > MAX_GENERATOR_SITES:
        raise NQSError(
            f"The full generator has 4^{n_sites} rows; exact references are limited to "
            f"N <= {MAX_GENERATOR_SITES}. Use a smaller system."
        )
    digits = _all_strings(n_sites)
    index = np.arange(digits.shape[0])
    weights = 4 ** (n_sites - 1 - np.arange(n_sites))
    rows, cols, vals = [], [], []
    for block in blocks:
        sites = np.asarray(block.sites)
        k = len(sites)
        local = digits[:, sites] @ (4 ** (k - 1 - np.arange(k)))
        for b in range(4**k):
            new = np.array(np.unravel_index(b, (4,) * k))
            v = block.matrix[local, b]
            keep = v != 0
            target = index + (new[None, :] - digits[:, sites]) @ weights[sites]
            rows.append(index[keep]), cols.append(target[keep]), vals.append(v[keep])
    dim = 4**n_sites
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(dim, dim)
    ).tocsr()
    return matrix if sparse else matrix.toarray()


def embed(op, sites, n_sites: int) -> np.ndarray:
    """The :math:`2^N\\times2^N` matrix of a :math:`k`-site operator acting on ``sites``."""
    op = np.asarray(op, dtype=complex)
    k, dim = len(sites), 2**n_sites
    identity = np.eye(dim, dtype=complex).reshape((2,) * n_sites + (dim,))
    axes = (list(range(k, 2 * k)), list(sites))
    out = np.tensordot(op.reshape((2,) * (2 * k)), identity, axes=axes)
    return np.moveaxis(out, list(range(k)), list(sites)).reshape(dim, dim)


def superoperator(n_sites: int, hamiltonian, jump_ops) -> np.ndarray:
    r"""Density-matrix Lindbladian :math:`\mathcal L_\mathrm{super}`, ``(4^N, 4^N)`` complex.

    Row-major vectorisation :math:`\mathrm{vec}(\rho)_{rd+c} = \rho_{rc}`, so
    :math:`\mathrm{vec}(A\rho B) = (A\otimes B^T)\,\mathrm{vec}(\rho)`:

    .. math::

        \mathcal L_\mathrm{super} = -i(H\otimes1 - 1\otimes H^T)
            + \sum_k\gamma_k\big(L_k\otimes L_k^* - \tfrac12 L_k^\dagger L_k\otimes1
            - \tfrac12\,1\otimes(L_k^\dagger L_k)^T\big)
    """
    terms, jumps = check_terms(n_sites, hamiltonian, jump_ops)
    if n_sites > MAX_SUPEROPERATOR_SITES:
        raise NQSError(
            f"The dense superoperator of {n_sites} sites has 4^{n_sites} rows; it is limited to "
            f"N <= {MAX_SUPEROPERATOR_SITES}. Use generator_matrix(..., sparse=True) instead."
        )
    dim = 2**n_sites
    one = np.eye(dim)
    h = sum((embed(m, s, n_sites) for s, m in terms), np.zeros((dim, dim), complex))
    out = -1j * (np.kron(h, one) - np.kron(one, h.T))
    for sites, op, rate in jumps:
        op = embed(op, sites, n_sites)
        decay = op.conj().T @ op
        out += rate * np.kron(op, op.conj())
        out -= 0.5 * rate * (np.kron(decay, one) + np.kron(one, decay.T))
    return out


def superoperator_to_povm(superop, frame: str | POVM) -> np.ndarray:
    r""":math:`\mathcal L = A\,\mathcal L_\mathrm{super}\,A^{-1}` with :math:`A: \mathrm{vec}(\rho)
    \mapsto P`, i.e. :math:`A_{a,(rc)} = M^a_{cr}` and :math:`A^{-1}_{(rc),b} = Q^b_{rc}`."""
    frame = povm(frame)
    superop = np.asarray(superop)
    n = (superop.shape[0].bit_length() - 1) // 2
    m, q = frame.elements(n), frame.duals(n)
    a = m.transpose(0, 2, 1).reshape(4**n, -1)
    a_inv = q.reshape(4**n, -1).T
    out = a @ superop @ a_inv
    return out.real
