"""Authentication and authorization shared by every function.

One guard (``stratus.auth.guard``), wired by ``StratusPlugin``, resolves each request's
credentials to a live user row and enforces the route's declared policy. Importing this package
does no I/O and reads no environment.
"""

from stratus.auth.principal import Principal, Role

__all__ = ["Principal", "Role"]
