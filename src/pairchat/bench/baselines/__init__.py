"""The servers pairchat is compared with, each run as its own process by
`pairchat bench --baseline`: `picows_relay` (the ceiling) and `socketio_relay`
(the usual Python choice)."""
