"""AWS Lambda entry point for the rag function: ``functions.rag.handler.handler``."""

from functions.rag.app import create_app
from stratus.lambda_http import mangum_handler

handler = mangum_handler(create_app)
