"""Window features over canonical events."""
