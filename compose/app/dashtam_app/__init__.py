"""Stand-in for the Dashtam FastAPI application, used by dashenv's compose files."""
