"""Configuration: environments (project.py), env files, layered sources with provenance."""
