"""The only asyncio / I/O layer: WebSocket and OSC endpoints, the model worker thread, audio out."""
from .app import Config, Server, serve_forever

__all__ = ["Config", "Server", "serve_forever"]
