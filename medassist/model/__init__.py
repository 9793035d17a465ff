"""MedAssist model layer: bundled bases, the build pipeline, and the streaming engine."""
