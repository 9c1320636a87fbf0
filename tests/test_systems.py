"""Systems: exact sector energies against closed forms and published exact values, sector
closure of the Hamiltonians, and clear errors for impossible systems."""

import netket as nk
import numpy as np
import pytest

import hamiltonians
from hamiltonians import System
from nqs.constraints import U1
from nqs.errors import ConstraintMismatchError, EmptySectorError, NQSError


def tfim_pbc_exact(n, h, J=1.0):
    """Jordan–Wigner closed form (models.md §1): even-parity momenta k = pi(2m+1)/N."""
    k = np.pi * (2 * np.arange(n) + 1) / n
    return -np.sum(np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k)))


@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_tfim_chain_matches_free_fermions(h):
    system = hamiltonians.tfim_chain(8, h)
    assert system.exact_energy() == pytest.approx(tfim_pbc_exact(8, h), abs=1e-10)


def test_tfim_obc_matches_closed_form_at_criticality():
    # models.md §1: OBC, h = 1: E0 = 1 - 1/sin(pi/(2(2N+1))).
    n = 8
    expected = 1 - 1 / np.sin(np.pi / (2 * (2 * n + 1)))
    assert hamiltonians.tfim_chain(n, 1.0, pbc=False).exact_energy() == pytest.approx(expected)


@pytest.mark.parametrize(
    "pbc, expected",
    # references.md §2 (ED in S^z = 0, equal to the Bethe ansatz)
    [(True, -4.515446354492), (False, -4.258035207283)],
)
def test_heisenberg_chain_n10(pbc, expected):
    system = hamiltonians.heisenberg_chain(10, pbc=pbc)
    assert system.hilbert.n_states == 252
    assert system.exact_energy() == pytest.approx(expected, abs=1e-9)


def test_marshall_sign_rotation_keeps_the_spectrum_and_makes_the_ground_state_positive():
    plain = hamiltonians.heisenberg_chain(8)
    rotated = hamiltonians.heisenberg_chain(8, marshall_sign=True)
    assert rotated.exact_energy() == pytest.approx(plain.exact_energy(), abs=1e-10)
    _, vector = rotated.exact_ground_state()
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    assert np.all(vector > -1e-12)


def test_unconstrained_heisenberg_has_the_same_ground_state_energy():
    assert hamiltonians.heisenberg_chain(8, total_sz=None).exact_energy() == pytest.approx(
        hamiltonians.heisenberg_chain(8).exact_energy(), abs=1e-10
    )


@pytest.mark.parametrize(
    "j2, expected",
    # references.md §3, 4x4 PBC (ED; VarBench agrees)
    [(0.0, -11.228483208429), (0.5, -8.457923351395)],
)
def test_j1j2_square_4x4(j2, expected):
    system = hamiltonians.j1j2_square(4, j2)
    assert system.exact_energy() == pytest.approx(expected, abs=1e-8)


def test_heisenberg_observables_in_the_ground_state():
    # Sum over bonds of <S_i.S_j> is E0; by SU(2) symmetry <S^z S^z> is a third of it.
    system = hamiltonians.heisenberg_chain(10)
    obs = system.exact_observables()
    assert obs["sz_sz_nearest"] == pytest.approx(system.exact_energy() / 10 / 3, abs=1e-10)
    assert obs["magnetization"] == pytest.approx(0, abs=1e-12)


def test_hamiltonian_leaving_the_sector_is_refused():
    hi = nk.hilbert.Spin(0.5, 6, total_sz=0)
    breaking = nk.operator.Ising(hi, nk.graph.Chain(6), h=1.0)  # sigma^x flips one spin
    with pytest.raises(ConstraintMismatchError, match="outside the sector"):
        System("bad", hi, breaking, U1.from_hilbert(hi))


def test_constraint_must_generate_the_hilbert_sector():
    hi = nk.hilbert.Spin(0.5, 6)
    with pytest.raises(ConstraintMismatchError, match="constraint"):
        System("bad", hi, nk.operator.Ising(hi, nk.graph.Chain(6), h=1.0), U1(6, (1, -1), 0))


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: hamiltonians.heisenberg_chain(7), EmptySectorError, "even"),
        (lambda: hamiltonians.heisenberg_chain(0), NQSError, "positive"),
        (lambda: hamiltonians.heisenberg_chain(7, marshall_sign=True, total_sz=None), NQSError,
         "bipartite"),
        (lambda: hamiltonians.tfim_chain(-2, 1.0), NQSError, "positive"),
        (lambda: hamiltonians.j1j2_square(1), NQSError, "L >= 2"),
    ],
)
def test_impossible_systems_are_refused(build, error, match):
    with pytest.raises(error, match=match):
        build()
