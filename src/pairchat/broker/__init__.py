"""The broker role: WebSocket gateway, connection hub, logic link, push service."""
