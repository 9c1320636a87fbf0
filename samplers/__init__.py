"""Exact autoregressive samplers (constraint-aware, chunked, sharding-ready) and enumeration."""

from samplers.direct import ARDirectSampler, ARDirectSamplerState

__all__ = ["ARDirectSampler", "ARDirectSamplerState"]
