"""Generations: the streaming relay, the cross-instance stop registry, checkpoints and limits."""
