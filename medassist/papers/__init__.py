"""Paper work without a UI: reading PDFs, summaries and their checks, outlines, drafts, the library. Imports only medassist.model."""
