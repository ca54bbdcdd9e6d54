from innopark_orders.models import metadata
from innopark_shared.migrations import run_env

run_env(metadata)
