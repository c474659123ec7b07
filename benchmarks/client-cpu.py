#!/usr/bin/env python3
"""Bench-client CPU benchmark: CPU per streamed token of `dsdeploy bench`, and the highest token
rate it sustains on one core, against dsdeploy-engine-sim (SwiftNIO) and its replay mode.

Called by benchmarks/client-cpu.sh; stdlib only. Each run starts a fresh simulator pinned to one
CPU and one client pinned to the other, and records: the client's CPU (os.wait4 rusage: user +
system, all threads), a 1-prompt 1-token run's CPU right after it (start-up + one request, so
`run` = whole − start-up), the load source's own CPU over the client's run (/proc/PID/stat),
TTFT/ITL as the client measured them, and the simulator's timer lateness.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import time
import urllib.request

MODEL = "sim/bench-model"
TICK = os.sysconf("SC_CLK_TCK")


def taskset(cpu):
    return ["taskset", "-c", str(cpu)]


def proc_cpu(pid):
    """utime + stime of a process (all threads) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Simulator:
    def __init__(self, binary, port, step_ms, ttft_ms, cpu, replay, log_path, batch=1, shared=False):
        env = dict(os.environ, DSDEPLOY_SIM_DECODE_STEP_MS=str(step_ms), DSDEPLOY_SIM_TTFT_BASE_MS=str(ttft_ms),
                   DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS="0", DSDEPLOY_SIM_ACCEPT_LENGTH="1",
                   DSDEPLOY_SIM_REPLAY="1" if replay else "0", DSDEPLOY_SIM_REPLAY_BATCH=str(batch),
                   DSDEPLOY_SIM_SHARED_STEPS="1" if shared else "0")
        self.port, self.log_path = port, log_path
        # The source's mean wait for a shared step boundary (read from its log at stop; 0 without shared steps).
        self.boundary_wait_ms = 0.0
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(taskset(cpu) + [binary, "--host", "127.0.0.1", "--port", str(port),
                                                    "--model-path", MODEL],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with {self.proc.returncode}; see {log_path}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"simulator not ready on port {port}; see {log_path}")

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def lateness_ms(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=2) as r:
                return json.loads(r.read())["internal_states"][0].get("sim_worst_timer_lateness_ms")
        except (OSError, KeyError, IndexError, ValueError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        mean = first = None
        try:
            for line in open(self.log_path):
                if "replay:" in line and "lateness mean" in line:
                    mean = float(line.split("lateness mean ")[1].split(" ms")[0])
                    if "first chunks:" in line:
                        first = float(line.split("first chunks:")[1].split("lateness mean ")[1].split(" ms")[0])
                    if "boundary wait mean " in line:
                        self.boundary_wait_ms = float(line.split("boundary wait mean ")[1].split(" ms")[0])
        except (OSError, ValueError, IndexError):
            pass
        return mean, first


def bench_argv(binary, port, c, n, out_len, in_len, warmup=1):
    return [binary, "bench", "--url", f"http://127.0.0.1:{port}", "--backend", "openai", "--model", MODEL,
            "--dataset-name", "random-ids", "--random-input-len", str(in_len), "--random-output-len", str(out_len),
            "--random-range-ratio", "1", "--num-prompts", str(n), "--max-concurrency", str(c),
            "--warmup-requests", str(warmup), "--output", "json"]


FLOOR_WAKE_US = 4000
# How each floor client reads, for the report.
FLOOR_KINDS = {"floor-reader.c": "epoll + recvmsg", "floor-uring.c": "io_uring multishot recvmsg"}


def floor_argv(binary, port, c, n, out_len, in_len):
    """benchmarks/floor-reader.c: the same closed loop with nothing but epoll + read (the floor), waking
    as often as dsdeploy bench does by default (FLOOR_WAKE_US, set from --floor-wake-us)."""
    return [binary, "127.0.0.1", str(port), str(c), str(n), str(in_len), str(out_len), MODEL, str(FLOOR_WAKE_US)]


def client_argv(client, binary, port, c, n, out_len, in_len, warmup=1):
    if client == "floor":
        return floor_argv(binary, port, c, n, out_len, in_len)
    return bench_argv(binary, port, c, n, out_len, in_len, warmup)


def run_client(argv, cpu, out_path, err_path):
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(taskset(cpu) + argv, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    return os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024


def one_run(a, client, binary, sc, rep):
    d = os.path.join(a.work, "runs", f"{sc['name']}-{sc['source']}-r{rep}-{client}")
    os.makedirs(d, exist_ok=True)
    load = os.getloadavg()[0]
    sim = Simulator(a.sim, a.port, sc["step"], a.ttft_ms, a.server_cpu, sc["source"] == "replay", f"{d}/sim.log",
                    batch=sc.get("batch", 1), shared=a.shared_steps)
    try:
        sim_cpu0 = sim.cpu()
        rc, cpu, wall, rss = run_client(client_argv(client, binary, a.port, sc["c"], sc["n"], sc["out"], a.input_len),
                                        a.client_cpu, f"{d}/stdout.json", f"{d}/stderr.txt")
        sim_cpu = sim.cpu() - sim_cpu0
        late = sim.lateness_ms()
        src, startup, _, _ = run_client(client_argv(client, binary, a.port, 1, 1, 1, a.input_len, warmup=0),
                                        a.client_cpu, f"{d}/startup.json", f"{d}/startup-stderr.txt")
    finally:
        mean_late, first_late = sim.stop()
    # With shared steps the model's own TTFT includes the wait for the next step boundary.
    model_ttft = a.ttft_ms + sim.boundary_wait_ms
    res = {}
    try:
        with open(f"{d}/stdout.json") as f:
            res = json.load(f)
    except (OSError, ValueError):
        pass
    tokens = res.get("total_output_tokens") or 0
    run_cpu = max(cpu - startup, 0.0) if src == 0 else None
    rec = {"client": client, "scenario": sc["name"], "source": sc["source"], "repeat": rep, "c": sc["c"],
           "n": sc["n"], "step_ms": sc["step"], "rc": rc, "wall_s": wall, "cpu_s": cpu, "startup_cpu_s": startup,
           "run_cpu_s": run_cpu, "rss_mb": rss, "tokens": tokens, "failed": res.get("failed"),
           "duration_s": res.get("duration"), "tok_s": res.get("output_throughput"),
           "mean_ttft_ms": res.get("mean_ttft_ms"), "p99_ttft_ms": res.get("p99_ttft_ms"),
           "mean_itl_ms": res.get("mean_itl_ms"), "p99_itl_ms": res.get("p99_itl_ms"),
           "model_ttft_ms": model_ttft, "sim_cpu_s": sim_cpu, "sim_worst_late_ms": late, "sim_mean_late_ms": mean_late, "sim_first_late_ms": first_late, "load1": load}
    rec["us_tok"] = cpu / tokens * 1e6 if tokens else None
    rec["run_us_tok"] = run_cpu / tokens * 1e6 if tokens and run_cpu is not None else None
    rec["sim_us_tok"] = sim_cpu / tokens * 1e6 if tokens else None
    # Busy share of the client's core while it streamed (run CPU over the benchmark's duration).
    rec["util"] = run_cpu / rec["duration_s"] if run_cpu is not None and rec["duration_s"] else None
    rec["sim_util"] = sim_cpu / wall if wall else None
    rec["itl_err_pct"] = abs(rec["mean_itl_ms"] - sc["step"]) / sc["step"] * 100 if rec["mean_itl_ms"] else None
    rec["ttft_infl_ms"] = rec["mean_ttft_ms"] - model_ttft if rec["mean_ttft_ms"] is not None else None
    print(f"  {sc['name']:>10} {sc['source']:<6} r{rep} {client:<7} rc={rc} tok={tokens} cpu={cpu:.3f}s "
          f"run µs/tok={rec['run_us_tok'] or 0:.2f} sim µs/tok={rec['sim_us_tok'] or 0:.2f} tok/s={rec['tok_s'] or 0:.0f} "
          f"itl={rec['mean_itl_ms'] or 0:.3f} ttft={rec['mean_ttft_ms'] or 0:.2f} util={rec['util'] or 0:.2f} "
          f"sim util={rec['sim_util'] or 0:.2f} late={late or 0:.2f}/{mean_late or 0:.3f} first late={first_late or 0:.2f}", flush=True)
    return rec


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsdeploy", required=True)
    ap.add_argument("--before", help="an older dsdeploy binary to measure in the same run")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--floor", help="benchmarks/floor-reader binary: the floor client, measured in the same run")
    ap.add_argument("--floor-source", default="benchmarks/floor-reader.c",
                    help="the source --floor was built from (named in the report)")
    ap.add_argument("--floor-wake-us", type=int, default=4000,
                    help="the most time between the floor client's wake-ups (dsdeploy bench's --wake-interval-us default; 0: every arrival)")
    ap.add_argument("--sim", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--port", type=int, default=31960)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--input-len", type=int, default=32)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--ttft-ms", type=float, default=20)
    ap.add_argument("--step-ms", type=float, default=20)
    ap.add_argument("--main", default="1:8,64:256,256:1024", help="CONCURRENCY:PROMPTS,…")
    ap.add_argument("--sources", default="nio,replay")
    ap.add_argument("--rate-steps", default="5,2.5,1.25,1", help="decode steps (ms) of the c=256 rate runs")
    ap.add_argument("--rate-prompts", type=int, default=768)
    ap.add_argument("--rate-output-len", type=int, default=256)
    ap.add_argument("--rate-batch", type=int, default=1,
                    help="chunks per write of the replay source in the rate runs (DSDEPLOY_SIM_REPLAY_BATCH)")
    ap.add_argument("--shared-steps", action="store_true",
                    help="decode steps shared by all streams, as in an engine's continuous batching (DSDEPLOY_SIM_SHARED_STEPS=1)")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--header", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--from-runs", help="a WORK folder of an earlier run: write the report from its runs.json only")
    a = ap.parse_args()
    global FLOOR_WAKE_US
    FLOOR_WAKE_US = a.floor_wake_us
    os.makedirs(a.work, exist_ok=True)

    clients = [("after", a.dsdeploy)] + ([(a.before_label, a.before)] if a.before else []) \
        + ([("floor", a.floor)] if a.floor else [])
    main = [{"name": f"c{c}", "c": int(c), "n": int(n), "step": a.step_ms, "out": a.output_len, "source": s}
            for s in a.sources.split(",") if s for c, n in (x.split(":") for x in a.main.split(",") if x)]
    suffix = f"-x{a.rate_batch}" if a.rate_batch > 1 else ""
    rate = [{"name": f"rate-{s}ms{suffix}", "c": 256, "n": a.rate_prompts, "step": float(s), "out": a.rate_output_len,
             "source": "replay", "batch": a.rate_batch} for s in a.rate_steps.split(",") if s]
    if a.from_runs:
        # Only the report again, from an earlier run's records (same options).
        with open(os.path.join(a.from_runs, "runs.json")) as f:
            runs = json.load(f)
        with open(os.path.join(a.from_runs, "meta.json")) as f:
            meta = json.load(f)
        started = datetime.datetime.fromisoformat(meta["started"])
        uptime_before, uptime_after = meta["uptime_before"], meta["uptime_after"]
    else:
        started = datetime.datetime.now(datetime.timezone.utc)
        uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        runs = []
        for rep in range(a.repeats):
            for sc in main + rate:
                order = clients if (rep + len(runs) // len(clients)) % 2 == 0 else list(reversed(clients))
                for label, binary in order:
                    runs.append(one_run(a, label, binary, sc, rep))
        uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        with open(os.path.join(a.work, "runs.json"), "w") as f:
            json.dump(runs, f, indent=1)
        with open(os.path.join(a.work, "meta.json"), "w") as f:
            json.dump({"started": started.isoformat(), "uptime_before": uptime_before,
                       "uptime_after": uptime_after}, f)
    for r in runs:
        # The client's share of the TTFT inflation: what is left once the configured TTFT and the
        # replay source's lateness of first chunks are taken off (replay only: the NIO source has none).
        r["ttft_client_ms"] = (r["mean_ttft_ms"] - r.get("model_ttft_ms", a.ttft_ms) - r["sim_first_late_ms"]
                               if r.get("mean_ttft_ms") is not None and r.get("sim_first_late_ms") is not None else None)

    def pick(label, sc):
        return [r for r in runs if r["client"] == label and r["scenario"] == sc["name"] and r["source"] == sc["source"]
                and r["rc"] == 0 and r["tokens"]]

    labels = [c[0] for c in clients]
    ratios = []  # (numerator label, denominator label, column title)
    if a.before:
        ratios.append((a.before_label, "after", "ratio run (before/after)"))
    if a.floor:
        ratios.append(("after", "floor", "after/floor run"))
    L = [f"# Bench client CPU: `dsdeploy bench` per streamed token ({started:%Y-%m-%d %H:%M} UTC)", ""]
    if a.command:
        L += [f"Command: `{a.command}`", ""]
    L += [a.header, ""] if a.header else []
    L += [f"- Workload: `dsdeploy bench --backend openai --dataset-name random-ids`, {a.input_len} prompt tokens "
          f"(token ids), {a.output_len} output tokens (rate runs: {a.rate_output_len}), /v1/completions streaming, "
          f"1 token per chunk; TTFT {a.ttft_ms:g} ms."
          + (" Decode steps shared by every stream (`DSDEPLOY_SIM_SHARED_STEPS=1`, as an engine's continuous batching "
             "emits one token for every running request per step): a stream's first chunk waits for the next step "
             "boundary after its TTFT, and that wait (the source logs its mean) is part of the model's TTFT."
             if a.shared_steps else ""),
          "- Load sources: `nio` = dsdeploy-engine-sim (SwiftNIO, the simulator as deployed); `replay` = the same "
          "binary with `DSDEPLOY_SIM_REPLAY=1` (one thread; a request's arrival is its kernel receive stamp; each "
          "chunk rendered and written at its due time).",
          f"- Pinning: client on CPU {a.client_cpu}, simulator on CPU {a.server_cpu} (taskset); a fresh simulator per "
          f"run; clients interleaved, order alternating; {a.repeats} repeats; medians shown.",
          "- `whole` = client CPU (user + system, exec to exit) / tokens. `run` = whole less a 1-prompt 1-token run's "
          "CPU (start-up + one request). `source` = the simulator's own CPU over the client's run / tokens. "
          "`util` = the client's run CPU / benchmark duration (1.00 = its core is saturated). "
          "`late` = simulator timer lateness (mean / worst, ms; mean from replay only). `first late` = the replay "
          "source's mean lateness of each stream's first chunk (the part of TTFT inflation the source adds). "
          f"`floor` = {a.floor_source} ({FLOOR_KINDS.get(os.path.basename(a.floor_source), 'a floor client')} + event count in C, the same closed loop, waiting up to {FLOOR_WAKE_US} µs between wake-ups while arrivals are dense (bounded as bench bounds it) and timing reads by the kernel's receive stamps, as `dsdeploy bench` does by default): the floor "
          "of CPU per token on this machine. `client share` = mean TTFT − configured TTFT − `first late` (replay): "
          "the part of the TTFT inflation that is the client's (start stamp → request on the wire → first chunk read).",
          f"- Load before: `{uptime_before}`", f"- Load after: `{uptime_after}`", ""]
    L += ["## CPU per streamed token (µs, medians)", "",
          "| source | scenario | tokens | " + " | ".join(f"{l} whole | {l} run" for l in labels)
          + "".join(f" | {t}" for _, _, t in ratios) + " | source µs/tok | "
          + " | ".join(f"{l} TTFT ms / ITL err % / client share ms" for l in labels) + " | late ms | first late ms |",
          "|" + "---|" * (3 + 2 * len(labels) + len(ratios) + 1 + len(labels) + 2)]
    for sc in main:
        cells, ratio_cells, acc = [], [], []
        for l in labels:
            rs = pick(l, sc)
            cells.append(f"{fmt(med([r['us_tok'] for r in rs]))} | {fmt(med([r['run_us_tok'] for r in rs]))}")
            acc.append(f"{fmt(med([r['mean_ttft_ms'] for r in rs]))} / {fmt(med([r['itl_err_pct'] for r in rs]), 3)}"
                       f" / {fmt(med([r['ttft_client_ms'] for r in rs]))}")
        for num, den, _ in ratios:
            x, y = med([r["run_us_tok"] for r in pick(num, sc)]), med([r["run_us_tok"] for r in pick(den, sc)])
            ratio_cells.append(f"{x / y:.1f}×" if x and y else "—")
        allr = pick(labels[0], sc)
        L.append(f"| {sc['source']} | c={sc['c']}, n={sc['n']} | {fmt(med([r['tokens'] for r in allr]), 0)} | "
                 + " | ".join(cells) + "".join(" | " + c for c in ratio_cells)
                 + f" | {fmt(med([r['sim_us_tok'] for r in allr]))} | " + " | ".join(acc)
                 + f" | {fmt(med([r['sim_mean_late_ms'] for r in allr]), 3)} / {fmt(med([r['sim_worst_late_ms'] for r in allr]))}"
                 + " | " + " / ".join(f"{l} {fmt(med([r['sim_first_late_ms'] for r in pick(l, sc)]), 2)}" for l in labels) + " |")
    batch_note = (f" The source writes a stream's chunks {a.rate_batch} to a `write` after the first "
                  f"(`DSDEPLOY_SIM_REPLAY_BATCH={a.rate_batch}`): the first and last chunk of each stream on time, "
                  f"the ones between in bursts of {a.rate_batch}; the client reads, parses and timestamps every event."
                  if a.rate_batch > 1 else "")
    L += ["", f"## Token rate on one core (c=256, {a.rate_prompts} prompts × {a.rate_output_len} tokens, replay source"
          + (f", {a.rate_batch} chunks per write" if a.rate_batch > 1 else "") + ")", "",
          "Offered rate = 256 streams / decode step. A client *sustains* a rate while its ITL error is ≤ 1 %, its TTFT "
          "inflation ≤ 5 ms and its core is below 95 % busy; the source is not the limit while its own core is below "
          "95 % busy and its timers are on time." + batch_note, "",
          "| step ms | offered tok/s | client | measured tok/s | run µs/tok | util | mean TTFT ms | mean ITL ms | ITL err % "
          "| source µs/tok | source util | late ms mean / worst | first late ms | client share ms | sustained |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for sc in rate:
        for l in labels:
            rs = pick(l, sc)
            if not rs:
                L.append(f"| {sc['step']:g} | {256 / sc['step'] * 1000:.0f} | {l} | failed | | | | | | | | | | | no |")
                continue
            m = {k: med([r[k] for r in rs]) for k in ("tok_s", "run_us_tok", "util", "mean_ttft_ms", "mean_itl_ms",
                                                       "itl_err_pct", "sim_us_tok", "sim_util", "sim_mean_late_ms",
                                                       "sim_worst_late_ms", "ttft_infl_ms", "sim_first_late_ms",
                                                       "ttft_client_ms")}
            ok = (m["itl_err_pct"] or 99) <= 1 and (m["ttft_infl_ms"] or 99) <= 5 and (m["util"] or 9) < 0.95
            L.append(f"| {sc['step']:g} | {256 / sc['step'] * 1000:.0f} | {l} | {fmt(m['tok_s'], 0)} | {fmt(m['run_us_tok'])} | "
                     f"{fmt(m['util'])} | {fmt(m['mean_ttft_ms'])} | {fmt(m['mean_itl_ms'], 3)} | {fmt(m['itl_err_pct'], 3)} | "
                     f"{fmt(m['sim_us_tok'])} | {fmt(m['sim_util'])} | {fmt(m['sim_mean_late_ms'], 3)} / "
                     f"{fmt(m['sim_worst_late_ms'])} | {fmt(m['sim_first_late_ms'])} | {fmt(m['ttft_client_ms'])} | "
                     f"{'yes' if ok else 'no'} |")
    L += ["", "## Every run", "",
          "| scenario | source | repeat | client | rc | wall s | CPU s | start-up CPU s | tokens | whole µs/tok | run µs/tok "
          "| tok/s | util | TTFT ms | client share ms | ITL ms | source CPU s | late ms | first late ms | load1 |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        L.append(f"| {r['scenario']} | {r['source']} | {r['repeat']} | {r['client']} | {r['rc']} | {r['wall_s']:.2f} | "
                 f"{r['cpu_s']:.3f} | {r['startup_cpu_s']:.3f} | {r['tokens']} | {fmt(r['us_tok'])} | {fmt(r['run_us_tok'])} | "
                 f"{fmt(r['tok_s'], 0)} | {fmt(r['util'])} | {fmt(r['mean_ttft_ms'])} | {fmt(r['ttft_client_ms'])} | "
                 f"{fmt(r['mean_itl_ms'], 3)} | "
                 f"{r['sim_cpu_s']:.2f} | {fmt(r['sim_mean_late_ms'], 3)} / {fmt(r['sim_worst_late_ms'])} | "
                 f"{fmt(r['sim_first_late_ms'])} | {r['load1']:.2f} |")
    with open(a.report, "w") as f:
        f.write("\n".join(L) + "\n")
    print(f"report: {a.report}")


if __name__ == "__main__":
    main()
