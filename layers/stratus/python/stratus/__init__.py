"""Stratus shared layer: settings, errors, stores, clients and web plumbing used by every function.

Nothing here imports ``functions/``; importing any module does no I/O and reads no environment.
"""

__version__ = "0.5.1"
