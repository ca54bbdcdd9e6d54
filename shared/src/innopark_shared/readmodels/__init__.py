"""Local read models that several services keep of another service's data."""
