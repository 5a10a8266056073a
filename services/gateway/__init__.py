"""The HTTP gateway: the only synchronous caller of the services. It stores nothing."""
