"""Proposals: the solutions residents and parks offer to published orders. Making one
(`service.py`), the partner's decisions and the proposer's withdrawal, and what an ended
order does to the open ones (`transitions.py`), reading them (`queries.py`)."""
