"""Shared test helpers: the database server, settings, a fake platform peer, waiting on events."""
