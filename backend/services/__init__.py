"""The shell: load state, ask the core, apply its actions through the adapters."""
