"""One adapter per outside system; only the adapter imports that system's library."""
