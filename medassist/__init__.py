"""MedAssist: a local, CPU-first medical AI assistant. Each subpackage is a layer (tests/test_layers.py)."""
