"""The floor for cold-start ratios: a bare Litestar app behind Mangum, serving one route."""

from typing import Any, cast

from litestar import Litestar, get
from mangum import Mangum


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[healthz])
handler: Any = Mangum(cast(Any, app), lifespan="off")
