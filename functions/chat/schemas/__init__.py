"""The chat function's request and response types (the API contract, with its constraints)."""
