"""``ranml serve``: run the HTTP model server (uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging


@handle_errors
def serve(
    registry: Annotated[str, typer.Option("--registry", help="Registry folder, or redis://host:port/db.")],
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    token_env: Annotated[str, typer.Option(help="Environment variable holding the admin bearer token.")]
    = "RANML_API_TOKEN",
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads per model.")] = 1,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body accepted.")] = 4.0,
    provider: Annotated[list[str] | None, typer.Option(
        help="ONNX Runtime execution provider, in order of preference (repeatable); default CPU.")] = None,
) -> None:
    """Serve the registry's models over HTTP (predict, models, promote/rollback, health, metrics)."""
    import uvicorn

    from ranml.serving import create_app

    setup_logging(False)
    app = create_app(registry, os.environ.get(token_env) or None, int(max_body_mb * 1024 * 1024), threads,
                     tuple(provider or ("CPUExecutionProvider",)))
    uvicorn.run(app, host=host, port=port, log_level="warning")
