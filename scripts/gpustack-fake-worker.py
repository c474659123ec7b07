#!/usr/bin/env python3
"""A controllable stand-in for a GPUStack 2.3.0 worker, for tests (standard library only).

It registers through GPUStack's own API (POST /v2/workers, with fake CUDA GPUs so that custom
backend versions with `custom_framework: cuda` are schedulable on it), heartbeats, serves the few
worker endpoints the server calls (/healthz, /files/*, /serveLogs/{id}), and drives every model
instance the scheduler puts on it through

    scheduled -> initializing -> starting -> running     (or -> error, with a state message)

as a control file says. The file is JSON and is re-read on every decision:

    {"default": {"state": "running", "delaySeconds": 1},
     "models": {"NAME": {"state": "error", "message": "CUDA out of memory"}}}

Per model (or default): `state` is the state an instance ends in (initializing, starting, running
or error; starting/initializing stay there, like an engine that never becomes ready),
`delaySeconds` the time from `scheduled` to that state, `message` the error's state message,
`restartDelaySeconds` the first back-off before an errored instance is restarted (default 10), and
`serve`: an argv (no shell) the worker starts for the instance when it reaches `starting`, with
`{port}`, `{name}` (the model's name) and `{model}` (its path) filled in and the model's `env` added
to the environment. The instance becomes `running` only once that port accepts connections, so a
client of the instance's endpoint (worker_ip:port) reaches a real server, e.g. the engine simulator;
the process is stopped when the instance is deleted.

Like the real worker (gpustack/worker/serve_manager.py), an instance in `error` whose model has
`restart_on_error` is restarted: back to `scheduled` with restart_count + 1, after a back-off that
doubles (10, 20, 40 ... 300 s), and it is then driven again as the control file says *then*.
Instances deleted by the server (a model restart, fewer replicas, a deleted model) are forgotten;
new ones (the restart's replacements, more replicas) are driven from `scheduled` on.

Usage: gpustack-fake-worker.py --env DIR/env --control DIR/fake-worker.json [--name N] [--port P]
(the env file is the one scripts/gpustack-server.sh writes; run inside the server's netns).
"""

import argparse
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ORDER = {"scheduled": 0, "initializing": 1, "downloading": 1, "starting": 2, "running": 3, "error": 3}


def log(msg):
    print(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} fake-worker: {msg}", file=sys.stderr, flush=True)


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, sep, v = line.rstrip("\n").partition("=")
            if sep:
                env[k] = v
    return env


class API:
    """Minimal JSON client for the GPUStack REST API."""

    def __init__(self, url, key):
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, key=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (key or self.key))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None


class Control:
    """The control file, re-read whenever it changed."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.data = {}

    def for_model(self, name):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self.stamp:
                with open(self.path, encoding="utf-8") as f:
                    self.data = json.load(f)
                self.stamp = stamp
        except FileNotFoundError:
            self.data, self.stamp = {}, None
        except (OSError, ValueError) as e:
            log(f"control file {self.path} unreadable, keeping the previous one: {e}")
        spec = {"state": "running", "delaySeconds": 1, "message": "simulated failure", "restartDelaySeconds": 10}
        spec.update(self.data.get("default") or {})
        spec.update((self.data.get("models") or {}).get(name) or {})
        if spec["state"] not in ("initializing", "starting", "running", "error"):
            log(f"control: unknown state {spec['state']!r} for {name}; using running")
            spec["state"] = "running"
        return spec


class FakeWorker:
    def __init__(self, args):
        env = read_env(args.env) if args.env else {}
        self.api = API(args.url or env.get("GPUSTACK_URL", "http://127.0.0.1:30080"),
                       args.api_key or env.get("GPUSTACK_API_KEY", ""))
        self.cluster_id = int(args.cluster_id or env.get("GPUSTACK_CLUSTER_ID") or 1)
        self.name = args.name
        self.port = args.port
        self.gpus = args.gpus
        self.labels = dict(kv.split("=", 1) for kv in args.label) if args.label else {"gpu-type": "cuda"}
        self.control = Control(args.control)
        self.state_file = args.state_file or os.path.join(os.path.dirname(os.path.abspath(args.control)),
                                                         f"{self.name}.state.json")
        self.ready_file = args.ready_file
        self.heartbeat_seconds = args.heartbeat_seconds
        self.lock = threading.Lock()
        self.instances = {}   # id -> latest instance object from the watch stream
        self.plans = {}       # id -> {"gen", "next_at", "pid", "port", ...}
        self.errors = {}      # id -> {"since", "backoff"}
        self.logs = {}        # id -> [lines]
        self.model_cache = {}
        self.served = {}      # id -> subprocess.Popen of the instance's `serve` command
        self.worker_id = None
        atexit.register(self.stop_all)
        self.token = None
        self.uuid = ""

    # -- registration and heartbeats -------------------------------------------------------------

    def status(self):
        gib = 1 << 30
        gpu = lambda i: {
            "vendor": "nvidia", "type": "cuda", "index": i, "device_index": i, "name": "NVIDIA H200",
            "uuid": f"GPU-fake-{self.name}-{i}", "driver_version": "570.0", "runtime_version": "12.8",
            "compute_capability": "9.0", "arch_family": "hopper",
            "core": {"total": 132, "utilization_rate": 0.0},
            "memory": {"total": 141 * gib, "used": 0, "utilization_rate": 0.0, "is_unified_memory": False},
        }
        return {
            "cpu": {"total": 64, "utilization_rate": 1.0},
            "memory": {"total": 1024 * gib, "used": 10 * gib, "utilization_rate": 1.0, "is_unified_memory": False},
            "gpu_devices": [gpu(i) for i in range(self.gpus)],
            "os": {"name": "Linux", "version": "fake"},
            "kernel": {"name": "Linux", "release": "6.1", "version": "fake", "architecture": "x86_64"},
            "filesystem": [{"name": "/", "mount_point": "/", "mount_from": "fake", "total": 2000 * gib,
                            "used": 100 * gib, "free": 1900 * gib, "available": 1900 * gib}],
            "uptime": {"uptime": 1000, "boot_time": "2026-01-01 00:00:00"},
        }

    def register(self):
        try:
            with open(self.state_file, encoding="utf-8") as f:
                self.uuid = json.load(f).get("worker_uuid", "")
        except (OSError, ValueError):
            self.uuid = ""
        body = {"name": self.name, "hostname": self.name, "ip": "127.0.0.1", "ifname": "lo", "port": self.port,
                "worker_uuid": self.uuid, "cluster_id": self.cluster_id, "labels": self.labels,
                "status": self.status()}
        w = self.api.call("POST", "/v2/workers", body)
        self.worker_id, self.token, self.uuid = w["id"], w["token"], w["worker_uuid"]
        with open(self.state_file + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"worker_uuid": self.uuid, "worker_id": self.worker_id}, f)
        os.replace(self.state_file + ".tmp", self.state_file)
        log(f"registered as worker {self.worker_id} ({self.name}, {self.gpus} x cuda)")

    def heartbeat(self):
        self.api.call("POST", "/v2/worker-heartbeat", key=self.token)
        self.api.call("POST", "/v2/worker-status", {
            "hostname": self.name, "ip": "127.0.0.1", "ifname": "lo", "port": self.port,
            "worker_uuid": self.uuid, "status": self.status(), "state_message": None,
            "system_reserved": {"ram": 0, "vram": 0}}, key=self.token)

    def heartbeat_loop(self):
        while True:
            try:
                self.heartbeat()
            except Exception as e:  # the server may be restarting; keep trying
                log(f"heartbeat failed: {e}")
            time.sleep(self.heartbeat_seconds)

    def wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            w = self.api.call("GET", f"/v2/workers/{self.worker_id}")
            if w.get("state") == "ready":
                log("worker is ready")
                if self.ready_file:
                    with open(self.ready_file, "w", encoding="utf-8") as f:
                        f.write(f"{self.worker_id}\n")
                return
            time.sleep(0.25)
        raise RuntimeError("worker not ready after 60 s")

    # -- watching instances ----------------------------------------------------------------------

    def watch_loop(self):
        u = urllib.parse.urlsplit(self.api.url)
        while True:
            try:
                conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
                conn.request("GET", "/v2/model-instances?watch=true",
                             headers={"Authorization": "Bearer " + self.api.key})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise RuntimeError(f"watch: HTTP {resp.status}")
                with self.lock:
                    self.instances.clear()  # the stream replays every row first
                buf = b""
                while True:
                    chunk = resp.read1(65536)
                    if not chunk:
                        raise RuntimeError("watch stream ended")
                    buf += chunk
                    while b"\n\n" in buf:
                        part, buf = buf.split(b"\n\n", 1)
                        if part.strip():
                            self.on_event(json.loads(part))
            except Exception as e:
                log(f"watch: {e}; reconnecting")
                time.sleep(1)

    def on_event(self, ev):
        data = ev.get("data") or {}
        iid = data.get("id")
        if iid is None:
            return
        with self.lock:
            if ev.get("type") == 3:
                self.instances.pop(iid, None)
                self.plans.pop(iid, None)
                self.errors.pop(iid, None)
                proc = self.served.pop(iid, None)
            else:
                self.instances[iid] = data
                proc = None
        if proc is not None:
            self.stop(proc)

    # -- served processes (`serve`) ----------------------------------------------------------------

    def start_serving(self, mi, spec, port):
        argv = spec.get("serve")
        if not argv or mi["id"] in self.served:
            return
        model = self.model(mi["model_id"], fresh=True) or {}
        env = dict(os.environ)
        env.update({k: str(v) for k, v in (model.get("env") or {}).items()})
        values = {"port": str(port), "name": model.get("name", ""), "model": model.get("local_path") or ""}
        cmd = [a.format(**values) for a in argv]
        log_path = os.path.join(os.path.dirname(os.path.abspath(self.control.path)), f"serve-{mi['id']}.log")
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.served[mi["id"]] = proc
        log(f"instance {mi['id']}: serving on port {port}: {' '.join(cmd)} (pid {proc.pid})")

    @staticmethod
    def listening(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    @staticmethod
    def stop(proc):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def stop_all(self):
        for proc in list(self.served.values()):
            self.stop(proc)

    # -- driving ---------------------------------------------------------------------------------

    def model(self, model_id, fresh=False):
        if fresh or model_id not in self.model_cache:
            self.model_cache[model_id] = self.api.call("GET", f"/v2/models/{model_id}")
        return self.model_cache[model_id]

    def put(self, iid, **changes):
        cur = self.api.call("GET", f"/v2/model-instances/{iid}", key=self.token)
        cur.update(changes)
        return self.api.call("PUT", f"/v2/model-instances/{iid}", cur, key=self.token)

    def say(self, iid, line):
        self.logs.setdefault(iid, []).append(f"{datetime.now(timezone.utc).isoformat()} {line}")

    def drive_loop(self):
        while True:
            try:
                self.drive_once()
            except urllib.error.HTTPError as e:
                if e.code != 404:  # 404: the instance was deleted meanwhile
                    log(f"drive: HTTP {e.code}: {e.read()[:300]!r}")
            except Exception as e:
                log(f"drive: {e}")
            time.sleep(0.1)

    def files_once(self):
        """Marks the model files the server assigned to this worker ready, as a real worker does
        once a local_path exists (the server then stops holding instances in `downloading`)."""
        files = self.api.call("GET", "/v2/model-files?perPage=100", key=self.token) or {}
        for f in files.get("items", []):
            if f.get("worker_id") != self.worker_id or f.get("state") == "ready":
                continue
            path = f.get("local_path") or f.get("local_dir") or ""
            f.update(state="ready", state_message="", download_progress=100, size=1 << 20,
                     resolved_paths=[path] if path else [])
            self.api.call("PUT", f"/v2/model-files/{f['id']}", f, key=self.token)
            log(f"model file {f['id']} ({path}) ready")

    def drive_once(self):
        now = time.time()
        if now >= getattr(self, "files_at", 0):
            self.files_at = now + 0.5
            self.files_once()
        with self.lock:
            mine = [dict(i) for i in self.instances.values() if i.get("worker_id") == self.worker_id]
        for mi in mine:
            iid, state, name = mi["id"], mi.get("state"), mi.get("model_name", "")
            gen = mi.get("restart_count") or 0
            if state == "error":
                self.maybe_restart(mi, now)
                continue
            if state not in ("scheduled", "initializing", "downloading", "starting"):
                continue
            plan = self.plans.get(iid)
            if plan is None or plan["gen"] != gen:
                # A new instance, a restarted one, or one in flight when this fake worker started.
                plan = {"gen": gen, "next_at": now, "pid": 100000 + iid, "port": 40000 + iid % 20000}
                self.plans[iid] = plan
            if now < plan["next_at"]:
                continue
            spec = self.control.for_model(name)
            target = spec["state"]
            if ORDER[state] >= ORDER[target]:
                continue
            nxt = {0: "initializing", 1: "starting", 2: target}[ORDER[state]]
            port = mi.get("port") or plan["port"]
            if spec.get("serve") and nxt == "starting":
                self.start_serving(mi, spec, port)
            if spec.get("serve") and nxt == "running" and not self.listening(port):
                self.start_serving(mi, spec, port)
                plan["next_at"] = now + 0.2
                continue
            changes = {"state": nxt, "state_message": ""}
            if nxt in ("starting", "running", "error") and not mi.get("port"):
                # The server may have moved it to `starting` itself (model file ready).
                changes.update(port=plan["port"], ports=[plan["port"]], pid=plan["pid"])
            if nxt == "error":
                changes["state_message"] = spec["message"]
            self.put(iid, **changes)
            with self.lock:
                if iid in self.instances:
                    self.instances[iid].update(changes)
            self.say(iid, f"fake-worker: {mi.get('name')} {state} -> {nxt}")
            if nxt == "running":
                self.say(iid, "INFO:     Application startup complete.")
                self.errors.pop(iid, None)
            if nxt == "error":
                self.say(iid, f"ERROR: {spec['message']}")
                err = self.errors.setdefault(iid, {"backoff": 0})
                err["since"] = now
            log(f"instance {iid} {mi.get('name')} ({name}): {state} -> {nxt}")
            plan["next_at"] = now + float(spec.get("delaySeconds", 1)) / 2

    def maybe_restart(self, mi, now):
        iid = mi["id"]
        err = self.errors.setdefault(iid, {"backoff": 0, "since": now})
        spec = self.control.for_model(mi.get("model_name", ""))
        base = float(spec.get("restartDelaySeconds", 10))
        delay = min(base * (2 ** err["backoff"]), 300)
        if now - err["since"] < delay:
            return
        if not self.model(mi["model_id"], fresh=True).get("restart_on_error"):
            err["since"] = now + 3600  # parked in error, like the real worker
            return
        err["backoff"] += 1
        err["since"] = now
        stamp = datetime.now(timezone.utc).isoformat()
        self.put(iid, state="scheduled", state_message="", restart_count=(mi.get("restart_count") or 0) + 1,
                 last_restart_time=stamp)
        self.say(iid, f"fake-worker: restarting {mi.get('name')} after error (attempt {err['backoff']})")
        log(f"instance {iid} restarted after error (attempt {err['backoff']})")

    # -- the worker's own HTTP API ---------------------------------------------------------------

    def serve(self):
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def send(self, code, obj, ctype="application/json"):
                body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                p = q.get("path", [""])[0]
                if u.path == "/healthz":
                    return self.send(200, b"ok", "text/plain")
                if u.path == "/files/file-exists":
                    return self.send(200, {"exists": os.path.exists(p), "path": p,
                                           "is_file": os.path.isfile(p), "is_dir": os.path.isdir(p)})
                if u.path == "/files/model-config":
                    if not os.path.isfile(p):
                        return self.send(404, {"detail": f"File not found: {p}"})
                    with open(p, encoding="utf-8") as f:
                        return self.send(200, json.load(f))
                if u.path == "/files/model-weight-size":
                    if not os.path.isdir(p):
                        return self.send(404, {"detail": f"Directory not found: {p}"})
                    return self.send(200, {"size": 1 << 20})
                if u.path.startswith("/serveLogs/"):
                    try:
                        iid = int(u.path.rsplit("/", 1)[1])
                    except ValueError:
                        return self.send(400, {"detail": "bad id"})
                    lines = list(worker.logs.get(iid, []))
                    tail = int(q.get("tail", ["-1"])[0] or -1)
                    if tail >= 0:
                        lines = lines[-tail:] if tail else []
                    return self.send(200, "".join(l + "\n" for l in lines).encode(), "application/octet-stream")
                log(f"unhandled worker API call: GET {self.path}")
                return self.send(404, {"detail": "not implemented in the fake worker"})

            def do_POST(self):
                log(f"unhandled worker API call: POST {self.path}")
                return self.send(404, {"detail": "not implemented in the fake worker"})

        ThreadingHTTPServer.daemon_threads = True
        srv = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def run(self):
        self.serve()
        self.register()
        self.heartbeat()
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        threading.Thread(target=self.watch_loop, daemon=True).start()
        self.wait_ready()
        self.drive_loop()


def main():
    ap = argparse.ArgumentParser(description="A controllable fake GPUStack worker (tests only).")
    ap.add_argument("--env", help="env file written by scripts/gpustack-server.sh up")
    ap.add_argument("--url")
    ap.add_argument("--api-key")
    ap.add_argument("--cluster-id")
    ap.add_argument("--name", default="fake-worker-0")
    ap.add_argument("--port", type=int, default=10150, help="port of the worker's own HTTP API")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--label", action="append", help="worker label k=v (default gpu-type=cuda)")
    ap.add_argument("--control", required=True, help="JSON control file (re-read on every decision)")
    ap.add_argument("--state-file", help="keeps worker_uuid so a restarted fake worker is the same worker")
    ap.add_argument("--ready-file", help="written once the server reports the worker ready")
    ap.add_argument("--heartbeat-seconds", type=float, default=5)
    # Served processes stop with the worker (atexit runs on SIGTERM too).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    FakeWorker(ap.parse_args()).run()


if __name__ == "__main__":
    main()
