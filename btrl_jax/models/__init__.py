"""Model definitions."""

from btrl_jax.models.transformer import (
  KVCache,
  Transformer,
  build,
  causal_mask,
  param_count,
  positions_from_valid,
)

__all__ = ["KVCache", "Transformer", "build", "causal_mask", "param_count", "positions_from_valid"]
