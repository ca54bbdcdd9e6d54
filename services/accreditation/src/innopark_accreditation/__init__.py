"""Accreditation service: criteria catalogue, applications, expert assessments, decisions,
certificates."""
