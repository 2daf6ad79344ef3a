"""The logic role: every use case of the protocol, and its gRPC servicer."""
