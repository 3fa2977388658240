"""A server's view of its users: sessions, who a request is from, the training line, traffic, the Train form."""
