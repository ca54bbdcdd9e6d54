"""Resident companies of the parks: admission, profile changes, departure; unique legal
identifiers; search and CSV export."""
