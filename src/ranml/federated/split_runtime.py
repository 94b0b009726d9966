"""Split learning between two processes over gRPC: the site's layers on the site, the rest on the server.

Per training step the site runs its part on a batch of its windows and sends what crosses the cut
with the targets (``Train``); the server runs its part, takes the loss, steps its optimiser and
sends back the gradients of what crossed; the site back-propagates them through its part and
steps its own optimiser (vanilla split learning, Gupta & Raskar 2018: the server sees activations
and targets, never the input windows). Both parts are checkpointed every ``checkpoint_every`` steps
(the site asks the server to save first, then saves its own, so the server always has the site's
step). When the server is lost, the site waits for it, asks it to load that step and goes on from
there: the steps since the checkpoint are redone, nothing else is lost.

Run as ``python -m ranml.federated.split_runtime server|site --out DIR --cut NAME --port P``
(:func:`ranml.federated.split_run.run_split` starts both).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import numpy as np

from ranml.benchmark import EnergyMeter, ModelShape
from ranml.errors import FederationError
from ranml.federated.config import SplitConfig
from ranml.federated.outputs import write_json
from ranml.federated.site import build_global_model, shape_from_fields, site_error, site_windows
from ranml.federated.split import split_model
from ranml.federated.split_wire import pack, unpack

__all__ = ["SERVICE", "SplitServer", "main", "run_site"]

log = logging.getLogger("ranml.federated.split")
SERVICE = "ranml.split.SplitLearning"
KEEP_CHECKPOINTS = 2


def _parts(cfg: SplitConfig, shape: ModelShape, cut: str) -> Any:
    import torch

    model = build_global_model(cfg, shape)
    net = model.net  # type: ignore[attr-defined]
    return split_model(net.train(), cut, torch.zeros(shape.example_input(2)))


def _read_spec(folder: Path) -> SplitConfig:
    return SplitConfig.model_validate(json.loads((folder.parent.parent / "run.json").read_text())["config"])


class SplitServer:
    """The server's half: its part of the model, its optimiser, its checkpoints.

    Parameters
    ----------
    folder
        The cut's folder (``<out>/cuts/<cut>``): ``server-<step>.pt`` checkpoints go there.
    cut
        The cut point.
    """

    def __init__(self, folder: Path, cut: str) -> None:
        self.folder = folder
        self.cut = cut
        self.cfg = _read_spec(folder)
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._part: Any = None
        self._opt: Any = None
        self.steps = 0

    # each handler: request bytes → reply bytes; a bad request is an INVALID_ARGUMENT, never a crash
    def hello(self, fields: dict[str, Any], _: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Build the server's part for the site's window shape; load the checkpoint the site resumes from."""
        import torch

        from ranml.benchmark import seed_everything

        seed_everything(self.cfg.seed, self.cfg.threads)
        shape = shape_from_fields(fields["shape"])
        self._part = _parts(self.cfg, shape, self.cut).server
        self._opt = torch.optim.Adam(self._part.parameters(), lr=self.cfg.lr)
        resume = int(fields.get("resume_step", 0))
        if resume:
            path = self.folder / f"server-{resume}.pt"
            if not path.exists():
                raise FederationError(f"the site resumes from step {resume} but the server has no checkpoint of it")
            saved = torch.load(path, weights_only=False)
            self._part.load_state_dict(saved["part"])
            self._opt.load_state_dict(saved["optimizer"])
        self.steps = resume
        return {"step": resume, "server_params": sum(p.numel() for p in self._part.parameters())}, []

    def train(self, fields: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """One step of the server's part; returns the gradients of what crossed."""
        import torch
        import torch.nn.functional as F

        *crossing_np, y_np = arrays
        crossing = [torch.from_numpy(a).requires_grad_(True) for a in crossing_np]
        self._opt.zero_grad(set_to_none=True)
        out = self._part(*crossing)
        y = torch.from_numpy(y_np)
        if tuple(out.shape) != tuple(y.shape):
            raise FederationError(f"targets of shape {tuple(y.shape)} for a forecast of {tuple(out.shape)}")
        loss = F.mse_loss(out, y)
        if not torch.isfinite(loss):
            raise FederationError("the loss is not finite; lower lr")
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(self._part.parameters(), 5.0)
        self._opt.step()
        self.steps += 1
        return {"loss": float(loss.item()), "step": self.steps}, [
            (c.grad if c.grad is not None else torch.zeros_like(c)).numpy() for c in crossing]

    def predict(self, _: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """The forecast for what crossed (evaluation)."""
        import torch

        with torch.no_grad():
            out = self._part.eval()(*[torch.from_numpy(a) for a in arrays])
        self._part.train()
        return {}, [out.numpy()]

    def checkpoint(self, fields: dict[str, Any], _: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Save the server's part and optimiser at the site's step; keep the last two."""
        import torch

        step = int(fields["step"])
        tmp = self.folder / f".server-{step}.tmp"
        torch.save({"part": self._part.state_dict(), "optimizer": self._opt.state_dict(), "step": step}, tmp)
        tmp.replace(self.folder / f"server-{step}.pt")
        for old in sorted(self.folder.glob("server-*.pt"), key=lambda p: int(p.stem.split("-")[1]))[:-KEEP_CHECKPOINTS]:
            old.unlink()
        return {"step": step}, []

    def finish(self, _: dict[str, Any], __: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """The site is done: stop serving."""
        self.done.set()
        return {"steps": self.steps}, []

    def handler(self, name: str) -> Any:
        """A gRPC unary handler (bytes in, bytes out) for method ``name``."""
        import grpc

        fn = {"Hello": self.hello, "Train": self.train, "Predict": self.predict, "Checkpoint": self.checkpoint,
              "Finish": self.finish}[name]

        def call(request: bytes, context: Any) -> bytes:
            with self._lock:
                try:
                    if name != "Hello" and self._part is None:
                        raise FederationError("say Hello first")
                    fields, arrays = unpack(request)
                    out_fields, out_arrays = fn(fields, arrays)
                except FederationError as exc:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
                except (RuntimeError, ValueError, TypeError, KeyError) as exc:
                    log.warning("bad %s request: %s", name, exc)
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{type(exc).__name__}: {exc}")
            return pack(out_fields, out_arrays)

        return grpc.unary_unary_rpc_method_handler(call, request_deserializer=None, response_serializer=None)

    def serve(self, port: int) -> None:
        """Serve on ``127.0.0.1:port`` until the site says Finish."""
        import grpc

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                             options=[("grpc.max_receive_message_length", 256 * 2**20),
                                      ("grpc.max_send_message_length", 256 * 2**20)])
        methods = {m: self.handler(m) for m in ("Hello", "Train", "Predict", "Checkpoint", "Finish")}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, methods),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        self.done.wait()
        server.stop(grace=1.0)


class _Link:
    """The site's gRPC stub: one method per call, bytes counted, waiting out a lost server."""

    def __init__(self, port: int, timeout_s: float) -> None:
        import grpc

        self.grpc = grpc
        self.port = port
        self.timeout = timeout_s
        self.sent = self.received = 0
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
            ("grpc.max_receive_message_length", 256 * 2**20), ("grpc.max_send_message_length", 256 * 2**20)])

    def call(self, method: str, fields: dict[str, Any], arrays: Any = ()) -> tuple[dict[str, Any], list[np.ndarray]]:
        request = pack(fields, list(arrays))
        reply = self._channel.unary_unary(f"/{SERVICE}/{method}")(request, timeout=self.timeout)
        self.sent += len(request)
        self.received += len(reply)
        return unpack(reply)

    def wait_for_server(self, limit_s: float = 120.0) -> None:
        """Block until the server answers again (after a restart)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                self.grpc.channel_ready_future(self._channel).result(timeout=2.0)
                return
            except self.grpc.FutureTimeoutError:
                continue
        raise FederationError(f"the split learning server on port {self.port} did not come back in {limit_s:.0f} s")


def _lost(grpc: Any, exc: Any) -> bool:
    """Whether a gRPC error means the server went away (rather than refused the request)."""
    return bool(exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))


def run_site(folder: Path, cut: str, port: int) -> dict[str, Any]:
    """Train the site's part against the server; write and return the cut's record.

    Writes ``progress.jsonl`` (one line per checkpoint) and ``result.json`` into ``folder``.
    """
    import grpc
    import torch

    from ranml.benchmark import seed_everything

    cfg = _read_spec(folder)
    seed_everything(cfg.seed, cfg.threads)
    data = site_windows(cfg.site, cfg.windows)
    shape = data.model_shape()
    split = _parts(cfg, shape, cut)
    part = split.site
    opt = torch.optim.Adam(part.parameters(), lr=cfg.lr)
    link = _Link(port, cfg.step_timeout_s)
    ckpt = folder / "site-latest.pt"

    def save(step: int) -> None:
        link.call("Checkpoint", {"step": step})
        tmp = folder / ".site.tmp"
        torch.save({"part": part.state_dict(), "optimizer": opt.state_dict(), "step": step}, tmp)
        tmp.replace(ckpt)

    def resume() -> int:
        step = 0
        if ckpt.exists():
            saved = torch.load(ckpt, weights_only=False)
            part.load_state_dict(saved["part"])
            opt.load_state_dict(saved["optimizer"])
            step = int(saved["step"])
        link.call("Hello", {"shape": shape.__dict__, "resume_step": step})
        return step

    x, y = torch.from_numpy(data.x["train"]), torch.from_numpy(data.y["train"])
    batches = (len(x) + cfg.batch_size - 1) // cfg.batch_size
    total = cfg.epochs * batches
    step = resume()
    if step == 0:
        save(0)  # the initial weights, so that a server lost before the first checkpoint restarts both from them
    recoveries, redone, losses = 0, 0, []
    site_s = e2e_s = 0.0
    steps_timed = train_bytes = 0
    with EnergyMeter() as meter:
        while step < total:
            epoch, b = divmod(step, batches)
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            t0 = time.perf_counter()
            try:
                opt.zero_grad(set_to_none=True)
                crossing = part(x[idx])
                t1 = time.perf_counter()
                before_bytes = link.sent + link.received
                fields, grads = link.call("Train", {"step": step}, [c.detach().numpy() for c in crossing]
                                          + [y[idx].numpy()])
                t2 = time.perf_counter()
                # a crossing tensor computed from the window alone (a normalisation statistic) has no graph
                pairs = [(c, torch.from_numpy(g)) for c, g in zip(crossing, grads, strict=True) if c.requires_grad]
                torch.autograd.backward([c for c, _ in pairs], [g for _, g in pairs])
                opt.step()
                t3 = time.perf_counter()
                train_bytes += link.sent + link.received - before_bytes
                if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == total:
                    save(step + 1)
            except grpc.RpcError as exc:
                if not _lost(grpc, exc):
                    raise FederationError(f"the server refused step {step}: {exc.details()}") from None
                log.warning("server lost at step %d (%s); waiting for it", step, exc.code().name)
                link.wait_for_server()
                before = step
                step = resume()
                recoveries += 1
                redone += before - step
                continue
            site_s += (t1 - t0) + (t3 - t2)
            e2e_s += t3 - t0
            steps_timed += 1
            losses.append(float(fields["loss"]))
            step += 1
            if step % cfg.checkpoint_every == 0 or step == total:
                with (folder / "progress.jsonl").open("a") as fh:
                    fh.write(json.dumps({"step": step, "total": total, "loss": float(np.mean(losses[-50:]))}) + "\n")
    reading = meter.reading
    assert reading is not None
    errors = {}
    part.eval()
    with torch.no_grad():
        for split_name in ("val", "test"):
            xs = torch.from_numpy(data.x[split_name])
            preds: list[np.ndarray] = []
            while len(preds) * 512 < len(xs):
                i = len(preds) * 512
                try:
                    preds.append(link.call("Predict", {}, [c.numpy() for c in part(xs[i : i + 512])])[1][0])
                except grpc.RpcError as exc:
                    if not _lost(grpc, exc):
                        raise FederationError(f"the server refused to predict: {exc.details()}") from None
                    link.wait_for_server()
                    resume()  # the last checkpoint is the final step: both parts as trained
                    recoveries += 1
            errors[split_name] = site_error(data, split_name, np.concatenate(preds) if preds else
                                            np.zeros((0, shape.horizon), np.float32)).mae
    bytes_per_step = train_bytes / max(steps_timed, 1)
    try:
        link.call("Finish", {})
    except grpc.RpcError as exc:  # a server that is already gone has nothing left to finish
        log.info("Finish: %s", exc.code().name)
    record = {
        "cut": cut, "module": split.cut.module, "site_params": split.cut.site_params,
        "server_params": split.cut.server_params,
        "crossing": [list(s) for s in split.cut.crossing], "floats_per_window": split.cut.floats_per_window,
        "steps": total, "train_windows": len(x), "batch_size": cfg.batch_size,
        "val_mae": errors["val"], "test_mae": errors["test"],
        "site_ms_per_step": 1e3 * site_s / max(steps_timed, 1), "step_ms": 1e3 * e2e_s / max(steps_timed, 1),
        "bytes_per_step": bytes_per_step, "site_energy_j": reading.joules, "energy_source": reading.source,
        "recoveries": recoveries, "steps_redone": redone,
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
    }
    write_json(folder / "result.json", record)
    return record


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server and site processes."""
    parser = argparse.ArgumentParser(description="A split learning site or server process.")
    parser.add_argument("role", choices=["server", "site"])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--cut", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.role == "server":
        SplitServer(args.folder, args.cut).serve(args.port)
    else:
        run_site(args.folder, args.cut, args.port)


if __name__ == "__main__":
    main()
