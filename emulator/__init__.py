"""A local emulator of Amazon API Gateway WebSocket APIs."""
