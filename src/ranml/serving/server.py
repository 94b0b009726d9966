"""The HTTP model server for rApps and remote callers (FastAPI, run by uvicorn).

Endpoints: ``POST /v1/models/{name}/predict`` (a batch of windows), ``GET /v1/models``,
``GET /v1/models/{name}``, ``POST /v1/models/{name}/promote`` and ``/rollback`` (bearer token),
``/healthz``, ``/readyz``, Prometheus ``/metrics`` and the OpenAPI document at ``/openapi.json``.

Errors: a window of the wrong length or feature count, or a NaN, → 422 naming the field; unknown
model or version → 404; a body over the limit → 413; a missing or wrong token → 401.
In-process callers (the xApp/dApp runtimes) use :class:`~ranml.serving.runtime.Predictor` directly.
"""


import hmac
import json
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ranml.errors import RanmlError, RegistryError
from ranml.serving.registries import open_registry

__all__ = ["AliasRequest", "PredictRequest", "PredictResponse", "RollbackRequest", "create_app"]

log = logging.getLogger("ranml.serving.server")


class PredictRequest(BaseModel):
    """A batch of windows to forecast."""

    cells: list[str] = Field(min_length=1, max_length=10_000, description="One cell id per window.")
    windows: list[list[list[float]]] = Field(
        min_length=1, description="[n][input_steps][features] in original units, features as in the manifest.")
    version: str = Field("champion", description="A version (X.Y.Z) or an alias.")
    deadline_ms: float | None = Field(None, gt=0, description="Answer with the fallback if slower.")


class PredictResponse(BaseModel):
    """Forecasts in original units, with the version that answered."""

    model: str
    version: str
    forecasts: list[list[float]]
    fallback: bool
    reason: str | None
    latency_us: float


class AliasRequest(BaseModel):
    """Point an alias at a version."""

    version: str
    alias: str = "champion"
    reason: str = ""


class RollbackRequest(BaseModel):
    """Move an alias back to its previous version."""

    alias: str = "champion"
    reason: str = ""


def create_app(registry: str | Path, token: str | None = None, max_body_bytes: int = 4 * 1024 * 1024,
               threads: int = 1, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    """Build the FastAPI application serving the models of a local registry.

    Parameters
    ----------
    registry
        Registry folder, or ``redis://host:port/db``.
    token
        Bearer token required by promote/rollback; without one those endpoints always answer 401.
    max_body_bytes
        Larger request bodies are refused with 413.
    threads
        ONNX Runtime threads per loaded model.
    providers
        ONNX Runtime execution providers in order of preference (``CUDAExecutionProvider`` first
        on a GPU site); a provider the installed onnxruntime lacks is skipped, and the one used
        is reported per model by ``/v1/models/{name}``.
    """
    import numpy as np
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse, PlainTextResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from ranml.serving.runtime import Predictor

    reg = open_registry(registry)
    metrics = CollectorRegistry()
    requests = Counter("ranml_predict_requests", "Predict calls", ["model", "version", "outcome"], registry=metrics)
    latency = Histogram("ranml_predict_latency_seconds", "Model latency per call", ["model", "version"],
                        registry=metrics, buckets=(1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0))
    loaded: dict[tuple[str, str], Predictor] = {}
    load_lock = threading.Lock()
    bearer = HTTPBearer(auto_error=False)

    app = FastAPI(title="ranml model server", version="1", description=__doc__)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, status_code=413)
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            # Without a length the size cannot be checked before reading: ask for one.
            return JSONResponse({"detail": "send a Content-Length header (chunked bodies are not accepted)"},
                                status_code=411)
        return await call_next(request)

    def authorize(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        if token is None:
            raise HTTPException(401, "admin endpoints are disabled: start the server with a token")
        if creds is None or not hmac.compare_digest(creds.credentials, token):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def predictor(name: str, ref: str) -> Predictor:
        try:
            version = reg.resolve(name, ref)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        with load_lock:
            p = loaded.get((name, version))
            if p is None:
                try:
                    p = Predictor.from_registry(reg, name, version, threads=threads,
                                                providers=tuple(providers)).start()
                except RanmlError as exc:
                    raise HTTPException(500, f"cannot load {name} {version}: {exc}") from None
                loaded[(name, version)] = p
        return p

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        try:
            models = reg.models()
        except OSError as exc:
            return JSONResponse({"ready": False, "reason": str(exc)}, status_code=503)
        return JSONResponse({"ready": True, "models": len(models), "loaded": len(loaded)})

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics).decode(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    def list_models() -> list[dict[str, Any]]:
        return [{"name": n, "versions": reg.versions(n), "aliases": reg.aliases(n)} for n in reg.models()]

    @app.get("/v1/models/{name}")
    def show_model(name: str) -> dict[str, Any]:
        try:
            versions = reg.versions(name)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        if not versions:
            raise HTTPException(404, f"no model {name!r}")
        with load_lock:
            providers_in_use = {v: p.provider for (n, v), p in loaded.items() if n == name}
        return {"name": name, "versions": versions, "aliases": reg.aliases(name), "history": reg.history(name),
                "loaded": providers_in_use}

    @app.post("/v1/models/{name}/predict", response_model=PredictResponse)
    def predict(name: str, body: PredictRequest) -> PredictResponse:
        p = predictor(name, body.version)
        shape = p.manifest.input_shape
        if len(body.cells) != len(body.windows):
            raise HTTPException(
                422, f"cells: {len(body.cells)} ids for {len(body.windows)} windows; give one per window")
        for i, w in enumerate(body.windows):
            if len(w) != shape[0]:
                raise HTTPException(422, f"windows[{i}]: {len(w)} steps, the model needs input_steps={shape[0]}")
            for j, row in enumerate(w):
                if len(row) != shape[1]:
                    raise HTTPException(422, f"windows[{i}][{j}]: {len(row)} features, the model needs "
                                             f"{shape[1]} ({', '.join(p.manifest.feature_names)})")
                if not all(math.isfinite(v) for v in row):
                    raise HTTPException(422, f"windows[{i}][{j}]: NaN or infinite value; fill gaps before calling")
        windows = np.asarray(body.windows, dtype=np.float32)
        deadline = body.deadline_ms / 1e3 if body.deadline_ms else None
        f = p.predict(body.cells, windows, deadline)
        requests.labels(name, f.version, "fallback" if f.fallback else "ok").inc()
        latency.labels(name, f.version).observe(f.latency_us / 1e6)
        return PredictResponse(model=name, version=f.version, forecasts=f.values.astype(float).tolist(),
                               fallback=f.fallback, reason=f.reason, latency_us=f.latency_us)

    @app.post("/v1/models/{name}/promote", dependencies=[Depends(authorize)])
    def promote(name: str, body: AliasRequest) -> dict[str, Any]:
        try:
            return reg.set_alias(name, body.alias, body.version, by="api", reason=body.reason)
        except RegistryError as exc:
            raise HTTPException(404 if "no model" in str(exc) or "has no" in str(exc) else 422, str(exc)) from None

    @app.post("/v1/models/{name}/rollback", dependencies=[Depends(authorize)])
    def rollback(name: str, body: RollbackRequest) -> dict[str, Any]:
        try:
            return reg.rollback(name, body.alias, by="api", reason=body.reason)
        except RegistryError as exc:
            raise HTTPException(404 if "no model" in str(exc) else 409, str(exc)) from None

    @app.exception_handler(json.JSONDecodeError)
    async def bad_json(_request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return JSONResponse({"detail": f"invalid JSON: {exc}"}, status_code=400)

    return app
