from innopark_registry.models import metadata
from innopark_shared.migrations import run_env

run_env(metadata)
