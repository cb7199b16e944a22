"""Example Lambda handlers: the chat application of API Gateway's WebSocket tutorial."""
