"""dashenv: development, test and CI environments for a Docker Compose application."""

__version__ = "0.1.0"
