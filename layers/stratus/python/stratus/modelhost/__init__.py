"""The HTTP client for the GPU Ollama host (or any server speaking Ollama's API)."""

from stratus.modelhost.client import ModelHostClient, close_model_host, get_model_host

__all__ = ["ModelHostClient", "close_model_host", "get_model_host"]
