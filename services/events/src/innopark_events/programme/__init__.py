"""The programme: an event's sessions (panels, workshops, site visits) within its times."""
