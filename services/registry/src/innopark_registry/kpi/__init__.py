"""Periodic KPI reports of the parks, and the association-wide figures computed from them."""
