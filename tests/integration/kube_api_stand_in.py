"""A small Kubernetes API-server stand-in on 127.0.0.1 for the rollout tests (no cluster runs here).

It serves real Kubernetes JSON objects (seeded from the charts' rendered manifests) for the
endpoints :class:`ranml.deploy.kube.KubeRollout` uses: get/create/merge-patch of Deployments and
ConfigMaps, and a Deployment watch. It plays the Deployment controller too: a change of the pod
template bumps ``metadata.generation`` and starts a rollout that the watch streams one replica at
a time (``MODIFIED`` events), or that stalls with ``ProgressDeadlineExceeded`` when
:attr:`KubeApiStandIn.stall` is set. Requests without the expected bearer token get 401.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_ROUTES = {("apis", "apps", "v1", "deployments"): "Deployment", ("api", "v1", "configmaps"): "ConfigMap"}


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


class KubeApiStandIn:
    """Objects by (kind, namespace, name), an HTTP server, a recorded request log."""

    def __init__(self, token: str = "t0ken") -> None:
        self.token = token
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # method, path, content type
        self.stall = False
        self._lock = threading.Lock()
        self._version = 100
        self._server: ThreadingHTTPServer | None = None

    # --- objects -------------------------------------------------------------------------------
    def add(self, obj: dict[str, Any], namespace: str) -> None:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta.setdefault("generation", 1)
        self._version += 1
        meta["resourceVersion"] = str(self._version)
        if obj["kind"] == "Deployment":
            n = obj["spec"].get("replicas", 1)
            obj["status"] = {"observedGeneration": meta["generation"], "replicas": n, "updatedReplicas": n,
                             "availableReplicas": n, "readyReplicas": n}
        self.objects[(obj["kind"], namespace, meta["name"])] = obj

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return self.objects[(kind, namespace, name)]

    # --- HTTP ----------------------------------------------------------------------------------
    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                stand_in.requests.append((method, url.path, self.headers.get("Content-Type", "")))
                if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                    return self._reply(401, _status(401, "Unauthorized", "missing or wrong bearer token"))
                status, out = stand_in.dispatch(method, url.path, parse_qs(url.query), body,
                                                self.headers.get("Content-Type", ""), self)
                if out is not None:
                    self._reply(status, out)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def dispatch(self, method: str, path: str, query: dict[str, list[str]], body: bytes, ctype: str,
                 handler: Any) -> tuple[int, dict[str, Any] | None]:
        parts = path.strip("/").split("/")
        # /api/v1/namespaces/{ns}/configmaps[/{name}] or /apis/apps/v1/namespaces/{ns}/deployments[/{name}]
        prefix_len = 2 if parts[0] == "api" else 3
        if len(parts) < prefix_len + 3 or parts[prefix_len] != "namespaces":
            return 404, _status(404, "NotFound", f"no route {path}")
        kind = _ROUTES.get((*parts[:prefix_len], parts[prefix_len + 2]))
        if kind is None:
            return 404, _status(404, "NotFound", f"no route {path}")
        ns = parts[prefix_len + 1]
        name = parts[prefix_len + 3] if len(parts) > prefix_len + 3 else None
        with self._lock:
            if name is None and method == "GET" and query.get("watch") == ["true"]:
                selector = (query.get("fieldSelector") or [""])[0]
                target = selector.split("=", 1)[1] if selector.startswith("metadata.name=") else ""
                self._watch(kind, ns, target, handler)
                return 200, None
            if name is None and method == "POST":
                obj = json.loads(body)
                key = (kind, ns, obj["metadata"]["name"])
                if key in self.objects:
                    return 409, _status(409, "AlreadyExists", f"{kind} {key[2]} already exists")
                self.add(obj, ns)
                return 201, self.objects[key]
            key = (kind, ns, name or "")
            if key not in self.objects:
                return 404, _status(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            if method == "GET":
                return 200, self.objects[key]
            if method == "PATCH":
                if ctype != "application/merge-patch+json":
                    return 415, _status(415, "UnsupportedMediaType", f"stand-in takes merge patches, got {ctype}")
                self._patch(key, json.loads(body))
                return 200, self.objects[key]
        return 405, _status(405, "MethodNotAllowed", method)

    def _patch(self, key: tuple[str, str, str], patch: dict[str, Any]) -> None:
        obj = self.objects[key]
        before = copy.deepcopy(obj.get("spec"))
        merged = _merge(obj, patch)
        self._version += 1
        merged["metadata"]["resourceVersion"] = str(self._version)
        if key[0] == "Deployment" and merged.get("spec") != before:
            merged["metadata"]["generation"] = int(merged["metadata"].get("generation", 1)) + 1
            status = merged.setdefault("status", {})
            if merged["spec"].get("template") != (before or {}).get("template"):
                status["updatedReplicas"] = 0  # a new ReplicaSet: pods roll one at a time
            n = merged["spec"].get("replicas", 1)
            status["replicas"] = n
            status["availableReplicas"] = min(status.get("availableReplicas", 0), n)
            status["updatedReplicas"] = min(status.get("updatedReplicas", 0), n)
        self.objects[key] = merged

    def _watch(self, kind: str, ns: str, name: str, handler: Any) -> None:
        """Stream the rollout: one MODIFIED event per replica updated, then close."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(event: dict[str, Any]) -> None:
            line = (json.dumps(event) + "\n").encode()
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()

        obj = self.objects.get((kind, ns, name))
        if obj is not None:
            status, n = obj.setdefault("status", {}), obj["spec"].get("replicas", 1)
            status["observedGeneration"] = obj["metadata"]["generation"]
            send({"type": "ADDED", "object": obj})
            if self.stall:
                status["conditions"] = [{"type": "Progressing", "status": "False",
                                         "reason": "ProgressDeadlineExceeded",
                                         "message": f'ReplicaSet "{name}" has timed out progressing.'}]
                send({"type": "MODIFIED", "object": obj})
            else:
                while status.get("updatedReplicas", 0) < n or status.get("availableReplicas", 0) < n:
                    time.sleep(0.01)
                    status["updatedReplicas"] = min(n, status.get("updatedReplicas", 0) + 1)
                    status["availableReplicas"] = status["updatedReplicas"]
                    status["replicas"] = n
                    send({"type": "MODIFIED", "object": obj})
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason,
            "code": code}
