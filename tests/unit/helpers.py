"""Facts the unit tests of the guards and of the reset plan share."""

from __future__ import annotations

from dashenv.guards import Endpoint, Intent, ProtectedTarget, ResetFacts, Stamp

# the protected development environment, on its own PostgreSQL and Redis
DEV = ProtectedTarget(
    environment="dev",
    project="dashtam-dev",
    sharing_declared=False,
    postgres=Endpoint("127.0.0.1", 5432, "dev-pg-id", "dashtam-dev"),
    database="dashtam",
    redis=Endpoint("127.0.0.1", 6379, "dev-redis-id", "dashtam-dev"),
    redis_indexes=(0, 2),
)
INTENT = Intent(
    environment="test",
    role="testing",
    protected=False,
    app_environment="testing",
    testing=True,
    database="dashtam_test",
    project_name="dashtam-test",
)
GOOD = ResetFacts(
    intent=INTENT,
    postgres=Endpoint("127.0.0.1", 5433, "test-pg-id", "dashtam-test"),
    database_exists=True,
    stamp=Stamp("test"),
    user_tables=("public.users",),
    redis=Endpoint("127.0.0.1", 6380, "test-redis-id", "dashtam-test"),
    redis_indexes=(1,),
    protected_targets=(DEV,),
)
