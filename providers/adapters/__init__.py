"""One module per provider; none imports its SDK until a client is built."""
