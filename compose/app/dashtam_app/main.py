"""The application: /health reports database (SQLAlchemy async) and Redis reachability."""

import os

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from dashtam_app.config import async_database_url, redis_url

app = FastAPI(title="Dashtam (dashenv stand-in)")
# the pool re-checks each connection, so it reconnects after dashenv swaps the database
engine = create_async_engine(async_database_url(), pool_pre_ping=True, pool_size=2)


async def _database() -> dict:
    try:
        async with engine.connect() as conn:
            name = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        return {"ok": True, "database": name}
    except Exception as exc:  # report any failure as unreachable
        return {"ok": False, "error": type(exc).__name__}


async def _redis() -> dict:
    try:
        client = aioredis.Redis.from_url(redis_url(), socket_timeout=3)
        await client.ping()
        index = client.connection_pool.connection_kwargs.get("db", 0)
        await client.aclose()
        return {"ok": True, "index": index}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


@app.get("/health")
async def health() -> JSONResponse:
    db, cache = await _database(), await _redis()
    ok = db["ok"] and cache["ok"]
    body = {
        "status": "ok" if ok else "degraded",
        "environment": os.environ.get("ENVIRONMENT", "development"),
        "database": db,
        "redis": cache,
    }
    return JSONResponse(body, status_code=200 if ok else 503)
