"""The model layer: engine, chat format, generation defaults, registry and build. Imports no other layer."""
