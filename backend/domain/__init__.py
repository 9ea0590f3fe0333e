"""The pure routing core: no I/O, no clock; the time is always an argument."""
