"""The registry's routes, one router per aggregate (each in its own package)."""

from .changes import api as changes
from .cooperation import api as cooperation
from .kpi import api as kpi
from .parks import api as parks
from .residents import api as residents

routers = [parks.router, residents.router, cooperation.router, kpi.router, changes.router]
