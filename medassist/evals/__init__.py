"""Exams for any engine (multiple-choice, log-likelihood or generate). Imports only medassist.model."""
