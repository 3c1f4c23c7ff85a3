"""Core's own drivers: local storage and the four compression methods.

They register through the same entry points as third-party plugins (see core's
``pyproject.toml``), so there is one code path and one listing.
"""
