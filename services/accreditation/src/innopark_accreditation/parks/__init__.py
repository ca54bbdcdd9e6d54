"""Parks as the registry announces them, and each park's accreditation (public)."""
