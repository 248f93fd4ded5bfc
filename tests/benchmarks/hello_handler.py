"""The floor for the Mangum functions: the bare Litestar hello behind Mangum, built at import."""

from typing import Any, cast

from mangum import Mangum

from tests.benchmarks.hello_app import app

handler: Any = Mangum(cast(Any, app), lifespan="off")
