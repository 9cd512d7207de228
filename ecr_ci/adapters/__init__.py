"""The CI adapters: thin entry points that read their platform's inputs, call the core, write its outputs."""
