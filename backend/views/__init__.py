"""HTTP and WebSocket entry points: validation and translation, no business rules."""
