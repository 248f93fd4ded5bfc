"""AWS Lambda entry point for the auth function: ``functions.auth.handler.handler``."""

from functions.auth.app import create_app
from stratus.lambda_http import mangum_handler

handler = mangum_handler(create_app)
