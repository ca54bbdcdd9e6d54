"""The service's routes, one router per package (find an endpoint by its folder)."""

from .events import api as events
from .programme import api as programme
from .registrations import api as registrations
from .travel import api as travel

routers = [events.router, programme.router, registrations.router, travel.router]
