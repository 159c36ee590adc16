"""Sans-I/O protocol: bytes <-> commands and events, for WebSocket (msgpack) and OSC. Knows no sockets, models or
streaming."""
from . import messages, osc, ws
from .messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ProtocolError

__all__ = ["MAX_MESSAGE_BYTES", "PROTOCOL_VERSION", "ProtocolError", "messages", "osc", "ws"]
