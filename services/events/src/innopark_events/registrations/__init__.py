"""Registrations: seats and the waitlist, moderation, ticket codes and check-in, and the
attendee list (CSV)."""
