"""MedAssist app: the Gradio UI over model.engine."""
