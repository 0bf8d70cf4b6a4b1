"""The OAuth callback server: receives provider redirects."""

from fastapi import FastAPI

app = FastAPI(title="Dashtam OAuth callback (dashenv stand-in)")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/callback")
def callback(code: str = "", state: str = "") -> dict:
    return {"received": bool(code), "state": state}
