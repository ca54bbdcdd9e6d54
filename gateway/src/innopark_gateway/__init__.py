"""Innopark API gateway."""
