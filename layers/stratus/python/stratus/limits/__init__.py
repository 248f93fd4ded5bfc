"""Rate limits shared by every process through the ephemeral table."""

from stratus.limits.sliding_window import Counter, Decision, SlidingWindow

__all__ = ["Counter", "Decision", "SlidingWindow"]
