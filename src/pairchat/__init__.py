"""pairchat: one-to-one chat with strangers over WebSocket, embedded or scaled out."""

__version__ = "0.1.0"
