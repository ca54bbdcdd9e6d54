from innopark_shared.migrations import run_env

from innopark_accreditation.models import metadata

run_env(metadata)
