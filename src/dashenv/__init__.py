"""dashenv: development, test and CI environments for a Docker Compose application."""

__version__ = "0.1.0"

# the version of every JSON document dashenv prints (status, doctor, ps, envs, config show);
# within a version fields are only added, never renamed, removed or given another meaning
SCHEMA_VERSION = 1
