"""The application: /health reports database and Redis reachability."""

import os

import psycopg
import redis
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dashtam_app.config import database_url, redis_url

app = FastAPI(title="Dashtam (dashenv stand-in)")


def _database() -> dict:
    try:
        with psycopg.connect(database_url(), connect_timeout=3, client_encoding="utf8") as conn:
            name = conn.execute("SELECT current_database()").fetchone()[0]
        return {"ok": True, "database": name}
    except Exception as exc:  # report any failure as unreachable
        return {"ok": False, "error": type(exc).__name__}


def _redis() -> dict:
    try:
        client = redis.Redis.from_url(redis_url(), socket_timeout=3)
        client.ping()
        return {"ok": True, "index": client.connection_pool.connection_kwargs.get("db", 0)}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


@app.get("/health")
def health() -> JSONResponse:
    db, cache = _database(), _redis()
    ok = db["ok"] and cache["ok"]
    body = {
        "status": "ok" if ok else "degraded",
        "environment": os.environ.get("ENVIRONMENT", "development"),
        "database": db,
        "redis": cache,
    }
    return JSONResponse(body, status_code=200 if ok else 503)
