"""Registry service: the association's parks and their residents; what every other part
reads through events."""
