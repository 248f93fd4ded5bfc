"""The floor's app: bare Litestar serving one route (under uvicorn, the Web Adapter's floor)."""

from litestar import Litestar, get


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[healthz])
