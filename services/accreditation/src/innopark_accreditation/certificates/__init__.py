"""Certificates: issue, status changes, signed documents, annual monitoring reports."""
