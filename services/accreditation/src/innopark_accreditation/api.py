"""Accreditation's HTTP routes: one router per aggregate, each in its package's `api.py`."""

from __future__ import annotations

from .applications import api as applications
from .catalogue import api as catalogue
from .certificates import api as certificates
from .parks import api as parks

routers = [catalogue.router, applications.router, certificates.router, parks.router]
