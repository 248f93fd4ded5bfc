"""Chat history: Open WebUI's ``/api/v1/chats`` routes and the store the generation engine uses."""
