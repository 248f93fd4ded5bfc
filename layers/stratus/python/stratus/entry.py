"""What every Lambda entry point does first: refuse a weak signing secret, read the secrets whose
ARNs are set, then build the app."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar


def entry_app(create_app: Callable[[], Litestar]) -> Litestar:
    """The app a Lambda entry point serves: built only once the signing secret checks out and
    every secret named by an ARN (``stratus.runtime_secrets``) has been read.

    The guard's authenticator (PyJWT, the key) is built here too, so no request builds it.
    """
    from stratus.auth.guard import get_authenticator
    from stratus.auth.secret import require_signing_key
    from stratus.runtime_secrets import require_runtime_secrets

    require_signing_key()
    require_runtime_secrets()
    get_authenticator()
    return create_app()
