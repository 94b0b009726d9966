"""The root ``ranml`` command: composes the command groups, holds no logic of its own."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import typer

from ranml.cli import (
    agent,
    benchmark,
    dapp,
    data,
    demo,
    e2sim,
    evaluate,
    export,
    fl,
    helm,
    rapp,
    registry,
    rmr,
    serve,
    sl,
    xapp,
)

app = typer.Typer(name="ranml", help="ranml: forecasting models from benchmark to O-RAN apps.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(agent.app, name="agent")
app.add_typer(benchmark.app, name="benchmark")
app.add_typer(dapp.app, name="dapp")
app.add_typer(data.app, name="data")
app.add_typer(e2sim.app, name="e2sim")
app.add_typer(fl.app, name="fl")
app.add_typer(helm.app, name="helm")
app.add_typer(rapp.app, name="rapp")
app.add_typer(evaluate.app, name="eval")
app.add_typer(registry.app, name="registry")
app.add_typer(rmr.app, name="rmr")
app.add_typer(sl.app, name="sl")
app.add_typer(xapp.app, name="xapp")
app.command("demo")(demo.demo)
app.command("export")(export.export)
app.command("serve")(serve.serve)


@app.command("version")
def version() -> None:
    """Print the ranml version."""
    from ranml import __version__

    typer.echo(__version__)


INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def main() -> None:
    """Console-script entry point: an interrupted command stops and exits 130, every time.

    Python delivers Ctrl-C as a ``KeyboardInterrupt`` in whatever the main thread runs at that
    moment; when that is a finaliser (an object's ``__del__``, a weakref callback) the exception
    is printed as "ignored" and lost, and the command would go on and exit 0. So a lost interrupt
    is delivered again (``sys.unraisablehook`` sees it; a helper thread calls
    ``_thread.interrupt_main`` a moment later, when the finaliser has returned), and a recorded
    interrupt makes the exit status 130. Commands that
    take SIGINT as a request to stop cleanly (``ranml xapp run``, ``rapp run``, ``dapp run``)
    replace this handler while they run, and exit 0 after a clean stop.
    """
    import _thread

    interrupted: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def on_unraisable(unraisable: Any) -> None:
        previous_hook(unraisable)
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            again = threading.Timer(0.01, _thread.interrupt_main)  # outside the finaliser that swallowed it
            again.daemon = True
            again.start()

    previous = signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = on_unraisable
    try:
        app()
    except SystemExit:
        if interrupted:
            raise SystemExit(INTERRUPTED_EXIT) from None
        raise
    except KeyboardInterrupt:
        raise SystemExit(INTERRUPTED_EXIT) from None
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
    if interrupted:
        raise SystemExit(INTERRUPTED_EXIT)


if __name__ == "__main__":
    main()
