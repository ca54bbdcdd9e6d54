"""Events: the association's calendar entries, their lifecycle, and their .ics export."""
