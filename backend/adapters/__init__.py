"""One adapter per outside system: MongoDB, the access URL, timers, WebSocket push."""
