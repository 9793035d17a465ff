"""What is kept on disk: history, the audit log, downloads, and the redaction applied first. Imports only medassist.model."""
