"""Exact autoregressive samplers (constraint-aware, chunked, sharding-ready) and enumeration."""

from samplers.direct import ARDirectSampler, ARDirectSamplerState
from samplers.strings import StringSampler

__all__ = ["ARDirectSampler", "ARDirectSamplerState", "StringSampler"]
