"""Shared fixtures. JAX compilation dominates the suite's time, so systems are tiny and the
objects that trigger compilation are built once per session."""

import jax
import pytest

import hamiltonians
import nqs

jax.config.update("jax_enable_x64", True)  # validation tests run in double precision


@pytest.fixture(scope="session")
def chain6():
    """Periodic Heisenberg chain, 6 sites, S^z = 0 sector (20 states); E0 from ED in the test."""
    return hamiltonians.heisenberg_chain(6)


@pytest.fixture(scope="session")
def small_model(chain6):
    return nqs.ARTransformer(hilbert=chain6.hilbert, n_layers=1, d_model=8, n_heads=2)
