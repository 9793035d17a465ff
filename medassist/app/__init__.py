"""The Gradio app: the page, the model service, settings, strings, one module per tab. The top layer."""
