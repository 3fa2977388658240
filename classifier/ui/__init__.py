"""The Gradio page: one module per tab, assembled by page.py (the only package that imports Gradio)."""
