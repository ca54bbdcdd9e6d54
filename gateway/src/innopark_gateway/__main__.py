from innopark_shared.cli import service_main

from .config import get_settings

service_main("innopark_gateway", get_settings)
