"""Pure planning: what to do and why, as plain functions over plain data. Nothing here imports
docker, psycopg, redis or an HTTP library: compose invocations, endpoints and conflicts
(``compose``), what the compose files say (``compose_files``), layouts found in a repository
(``detect``), instance names and port leases (``allocation``), the reset's names and steps
(``reset``), the names of the databases dashenv makes (``names``), Alembic's revision graph
(``migrations``)."""
