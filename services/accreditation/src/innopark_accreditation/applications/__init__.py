"""Applications from park managers, and their expert assessment and decision."""
