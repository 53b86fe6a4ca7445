"""The operators' view: year-end targets, services at a glance, access-count queries, and the
operator accounts and sessions of the dashboard.

Everything here reads the database through an ``AsyncSession`` and takes its notion of "now"
from an injectable clock, so the HTTP routes (``app.routers.ops``), the command line
(``app.cli_ops``) and the tests share one implementation.
"""
