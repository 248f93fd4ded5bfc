"""The web client (``web/``), served by the local stack at ``/`` in both modes.

Static files only: the page, its modules and the vendored libraries (``make vendor``).
"""

from __future__ import annotations

from local.webclient.routes import is_web_path, web_route_handlers

__all__ = ["is_web_path", "web_route_handlers"]
