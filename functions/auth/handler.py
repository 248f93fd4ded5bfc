"""AWS Lambda entry point for the auth function: ``functions.auth.handler.handler``.

Importing this module is the function's init (``stratus.lambda_http``), run with the garbage
collector off (``stratus.init_gc``).
"""

from stratus import init_gc

with init_gc.phase():
    from functions.auth.app import create_app
    from stratus.lambda_http import mangum_handler

    handler = mangum_handler(create_app)
