"""Technology orders: posting and editing (`service.py`), the lifecycle with one named
operation per transition (`transitions.py`), reading (`queries.py`), and matching to
parks and residents from the local read model (`matching.py`)."""
