from innopark_shared.migrations import run_env

from innopark_orders.models import metadata

run_env(metadata)
