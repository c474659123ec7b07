#!/usr/bin/env python3
"""Peer benchmark driver: `dsdeploy bench` vs `python -m sglang.bench_serving` on one simulator.

Called by benchmarks/peer.sh (which builds, installs and passes the paths); stdlib only.
For each scenario and repeat it starts a fresh dsdeploy-engine-sim pinned to one CPU, runs one client
pinned to the other CPU, then the other client (the order alternates per repeat), and records per run:
the client's CPU seconds (os.wait4 rusage of the client process: user + system, all threads), wall
time, streamed tokens, TTFT/ITL as the client measured them, the simulator's worst timer lateness
and the load average. bench_serving's CPU is also split into start-up and its timed asyncio.run()
(bs_probe.py). Writes a Markdown report and a JSON file with every run.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

MODEL = "sim/peer-model"


def taskset(cpu):
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


class Simulator:
    def __init__(self, binary, port, step_ms, ttft_ms, cpu, log_path):
        env = dict(os.environ, DSDEPLOY_SIM_DECODE_STEP_MS=str(step_ms), DSDEPLOY_SIM_TTFT_BASE_MS=str(ttft_ms),
                   DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS="0", DSDEPLOY_SIM_ACCEPT_LENGTH="1")
        self.port = port
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

    def lateness_ms(self):
        try:
            info = get_json(f"http://127.0.0.1:{self.port}/server_info")
            return info["internal_states"][0].get("sim_worst_timer_lateness_ms")
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


def run_client(argv, env, cpu, stdout_path, stderr_path):
    """Runs argv pinned to cpu; returns (exit code, rusage, wall seconds)."""
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(taskset(cpu) + argv, env=env, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru, wall


def dsdeploy_run(a, sc, port, d):
    argv = [a.dsdeploy, "bench", "--url", f"http://127.0.0.1:{port}", "--backend", "openai", "--model", MODEL,
            "--dataset-name", "random-ids", "--random-input-len", str(a.input_len),
            "--random-output-len", str(a.output_len), "--random-range-ratio", "1",
            "--num-prompts", str(sc["n"]), "--max-concurrency", str(sc["c"]), "--warmup-requests", "1",
            "--output", "json"]
    rc, ru, wall = run_client(argv, dict(os.environ), a.client_cpu, f"{d}/stdout.json", f"{d}/stderr.txt")
    res = {}
    try:
        with open(f"{d}/stdout.json") as f:
            res = json.load(f)
    except (OSError, ValueError):
        pass
    return rc, ru, wall, res, None


def dsdeploy_startup(a, port, d):
    """CPU of a 1-prompt, 1-token run without warm-up: dsdeploy's start-up plus one request."""
    argv = [a.dsdeploy, "bench", "--url", f"http://127.0.0.1:{port}", "--backend", "openai", "--model", MODEL,
            "--dataset-name", "random-ids", "--random-input-len", str(a.input_len), "--random-output-len", "1",
            "--num-prompts", "1", "--warmup-requests", "0", "--output", "json"]
    rc, ru, wall = run_client(argv, dict(os.environ), a.client_cpu, f"{d}/startup.json", f"{d}/startup-stderr.txt")
    return ru.ru_utime + ru.ru_stime if rc == 0 else None


def bench_serving_run(a, sc, port, d):
    argv = [a.python, a.probe, "--backend", "sglang-oai", "--base-url", f"http://127.0.0.1:{port}",
            "--model", a.tokenizer, "--served-model-name", MODEL, "--tokenizer", a.tokenizer,
            "--dataset-name", "random-ids", "--random-input-len", str(a.input_len),
            "--random-output-len", str(a.output_len), "--random-range-ratio", "1",
            "--num-prompts", str(sc["n"]), "--max-concurrency", str(sc["c"]), "--warmup-requests", "1",
            "--disable-tqdm", "--output-file", f"{d}/result.jsonl"]
    env = dict(os.environ, PEER_PROBE_OUT=f"{d}/probe.json", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    rc, ru, wall = run_client(argv, env, a.client_cpu, f"{d}/stdout.txt", f"{d}/stderr.txt")
    res, main = {}, None
    try:
        with open(f"{d}/result.jsonl") as f:
            res = json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"{d}/probe.json") as f:
            calls = json.load(f)["asyncio_run_calls"]
        main = {"cpu_s": sum(c["cpu_s"] for c in calls), "wall_s": sum(c["wall_s"] for c in calls)}
    except (OSError, ValueError, KeyError):
        pass
    return rc, ru, wall, res, main


CLIENTS = {"dsdeploy": dsdeploy_run, "bench_serving": bench_serving_run}


def one_run(a, client, sc, rep, port):
    d = os.path.join(a.work, "runs", f"{sc['name']}-r{rep}-{client}")
    os.makedirs(d, exist_ok=True)
    load = os.getloadavg()[0]
    sim = Simulator(a.sim, port, sc["step"], a.ttft_ms, a.server_cpu, f"{d}/sim.log")
    try:
        rc, ru, wall, res, main = CLIENTS[client](a, sc, port, d)
        startup = dsdeploy_startup(a, port, d) if client == "dsdeploy" else None
        late = sim.lateness_ms()
    finally:
        sim.stop()
    cpu = ru.ru_utime + ru.ru_stime
    tokens = res.get("total_output_tokens") or 0
    rec = {
        "client": client, "scenario": sc["name"], "repeat": rep, "concurrency": sc["c"], "num_prompts": sc["n"],
        "step_ms": sc["step"], "ttft_cfg_ms": a.ttft_ms, "rc": rc, "wall_s": wall, "cpu_s": cpu,
        "max_rss_mb": ru.ru_maxrss / 1024, "tokens": tokens, "completed": res.get("completed"),
        "main_cpu_s": main["cpu_s"] if main else None, "main_wall_s": main["wall_s"] if main else None,
        "mean_ttft_ms": res.get("mean_ttft_ms"), "p99_ttft_ms": res.get("p99_ttft_ms"),
        "mean_itl_ms": res.get("mean_itl_ms"), "median_itl_ms": res.get("median_itl_ms"),
        "p99_itl_ms": res.get("p99_itl_ms"), "std_itl_ms": res.get("std_itl_ms"),
        "output_throughput": res.get("output_throughput"), "sim_worst_late_ms": late, "load1": load,
    }
    if client == "dsdeploy":
        # dsdeploy measures its own part (client_cpu_s: the prompt-mode probe, warm-up, timed run and
        # metrics, which bench_serving's benchmark() covers). The older estimate, the whole process less
        # a 1-token run's CPU, is kept beside it; it is used when the result has no client_cpu_s.
        rec["startup_cpu_s"] = startup
        rec["run_cpu_subtracted_s"] = max(cpu - startup, 0.0) if startup is not None else None
        own = res.get("client_cpu_s")
        rec["main_cpu_s"] = own if own is not None else rec["run_cpu_subtracted_s"]
        rec["main_wall_s"] = None
    else:
        rec["startup_cpu_s"] = (cpu - main["cpu_s"]) if main else None
    rec["cpu_per_1k"] = cpu / tokens * 1000 if tokens else None
    rec["main_cpu_per_1k"] = rec["main_cpu_s"] / tokens * 1000 if tokens and rec["main_cpu_s"] is not None else None
    sub_cpu = rec.get("run_cpu_subtracted_s")
    rec["subtracted_cpu_per_1k"] = sub_cpu / tokens * 1000 if tokens and sub_cpu is not None else None
    rec["itl_err_pct"] = (abs(rec["mean_itl_ms"] - sc["step"]) / sc["step"] * 100) if rec["mean_itl_ms"] else None
    rec["ttft_err_ms"] = (rec["mean_ttft_ms"] - a.ttft_ms) if rec["mean_ttft_ms"] is not None else None
    # CPU use of the client over its run (1.0 = one core busy the whole time).
    rec["cpu_util"] = (rec["main_cpu_s"] / rec["main_wall_s"]) if rec.get("main_wall_s") else cpu / wall
    print(f"  {sc['name']:>14} r{rep} {client:<13} rc={rc} tokens={tokens} cpu={cpu:.3f}s "
          f"cpu/1k={rec['cpu_per_1k'] or 0:.4f} itl={rec['mean_itl_ms'] or 0:.3f}ms "
          f"ttft={rec['mean_ttft_ms'] or 0:.2f}ms util={rec['cpu_util']:.2f} load={load:.2f}", flush=True)
    return rec


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=3):
    return "—" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsdeploy", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--python", required=True, help="bench_serving venv's python")
    ap.add_argument("--probe", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--port", type=int, default=31900)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sweep-repeats", type=int, default=3)
    ap.add_argument("--input-len", type=int, default=32)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--ttft-ms", type=float, default=20)
    ap.add_argument("--step-ms", type=float, default=20)
    ap.add_argument("--sweep-steps", default="40,20,14,10,7,5")
    ap.add_argument("--sweep-prompts", type=int, default=512)
    ap.add_argument("--main", default="1:24,64:256,256:1024", help="CONCURRENCY:PROMPTS,…")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--header", default="", help="lines to put under the title (versions, install)")
    a = ap.parse_args()
    if a.client_cpu < 0:
        a.client_cpu = a.server_cpu = None
    os.makedirs(a.work, exist_ok=True)

    main_scenarios = []
    for spec in a.main.split(","):
        c, n = (int(x) for x in spec.split(":"))
        main_scenarios.append({"name": f"c{c}", "c": c, "n": n, "step": a.step_ms})
    sweep = [{"name": f"sweep-{s}ms", "c": 256, "n": a.sweep_prompts, "step": float(s)}
             for s in a.sweep_steps.split(",") if s]
    runs = []
    started = datetime.datetime.now(datetime.timezone.utc)
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    for scenarios, repeats in ((main_scenarios, a.repeats), (sweep, a.sweep_repeats)):
        for rep in range(repeats):
            for sc in scenarios:
                order = ["dsdeploy", "bench_serving"] if (rep + len(runs)) % 2 == 0 else ["bench_serving", "dsdeploy"]
                for client in order:
                    runs.append(one_run(a, client, sc, rep, a.port))
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with open(os.path.join(a.work, "runs.json"), "w") as f:
        json.dump(runs, f, indent=1)

    def pick(client, name):
        return [r for r in runs if r["client"] == client and r["scenario"] == name and r["rc"] == 0 and r["tokens"]]

    L = [f"# Peer benchmark: dsdeploy bench vs sglang.bench_serving ({started:%Y-%m-%d %H:%M} UTC)", ""]
    L += [a.header, ""] if a.header else []
    L += [f"- Simulator: dsdeploy-engine-sim, TTFT {a.ttft_ms:g} ms, decode step {a.step_ms:g} ms (sweep: varied), "
          f"1 token per step, {a.input_len} prompt / {a.output_len} output tokens per request, /v1/completions streaming.",
          f"- Clients: `dsdeploy bench --backend openai --dataset-name random-ids` (release build) and "
          f"`python -m sglang.bench_serving --backend sglang-oai --dataset-name random-ids --disable-tqdm` (through bs_probe.py).",
          f"- Pinning: client on CPU {a.client_cpu}, simulator on CPU {a.server_cpu} (taskset); a fresh simulator per run; "
          f"clients interleaved, order alternating; {a.repeats} repeats (sweep: {a.sweep_repeats}); medians shown.",
          f"- Load before: `{uptime_before}`", f"- Load after: `{uptime_after}`", ""]
    L += ["## CPU per 1,000 streamed tokens (medians)", "",
          "`whole` = the client process from exec to exit, start-up included. `run` = start-up excluded: for "
          "bench_serving its timed `asyncio.run(benchmark())` (warm-up, run, metrics); for dsdeploy its own "
          "`client_cpu_s` (`getrusage` from its prompt-mode probe to its metrics: probe, warm-up, run, metrics; "
          "the dataset and the report aside, as bench_serving's are). `dsdeploy run, subtracted` = the older "
          "estimate: the whole process less the CPU of a 1-prompt, 1-token run right after it (start-up + one "
          "request), which also counts the dataset, the report and closing the connections at exit.", "",
          "`ratio (run), paired` = the median over repeats of each repeat's own ratio: the two clients of a "
          "repeat run one right after the other, so a slower stretch of the machine weighs on both.", "",
          "| scenario | tokens | dsdeploy run | bench_serving run | ratio (run) | ratio (run), paired | dsdeploy run, subtracted "
          "| ratio (run, subtracted) | dsdeploy whole | bench_serving whole "
          "| ratio (whole) | start-up CPU s dsdeploy / bench_serving | RSS MB dsdeploy / bench_serving | load1 |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for sc in main_scenarios:
        d, b = pick("dsdeploy", sc["name"]), pick("bench_serving", sc["name"])
        dm, bm = med([r["main_cpu_per_1k"] for r in d]), med([r["main_cpu_per_1k"] for r in b])
        dw, bw = med([r["cpu_per_1k"] for r in d]), med([r["cpu_per_1k"] for r in b])
        rm = bm / dm if bm and dm else None
        rw = bw / dw if bw and dw else None
        ds = med([r.get("subtracted_cpu_per_1k") for r in d])
        rs_ = bm / ds if bm and ds else None
        by_rep = {r["repeat"]: r["main_cpu_per_1k"] for r in d}
        rp = med([r["main_cpu_per_1k"] / by_rep[r["repeat"]] for r in b
                  if r["main_cpu_per_1k"] and by_rep.get(r["repeat"])])
        summary.append((sc, dm, bm, rm, dw, bw, rw))
        L.append(f"| c={sc['c']}, n={sc['n']} | {med([r['tokens'] for r in d + b]) or 0:.0f} | {fmt(dm, 4)} | {fmt(bm, 4)} | "
                 f"{fmt(rm, 1)}× | {fmt(rp, 1)}× | {fmt(ds, 4)} | {fmt(rs_, 1)}× | {fmt(dw, 4)} | {fmt(bw, 4)} | {fmt(rw, 1)}× | "
                 f"{fmt(med([r['startup_cpu_s'] for r in d]), 3)} / {fmt(med([r['startup_cpu_s'] for r in b]), 3)} | "
                 f"{fmt(med([r['max_rss_mb'] for r in d]), 0)} / {fmt(med([r['max_rss_mb'] for r in b]), 0)} | "
                 f"{fmt(med([r['load1'] for r in d + b]), 2)} |")
    L += ["", "## Accuracy against the simulator's configured values (medians)", "",
          f"Configured: TTFT {a.ttft_ms:g} ms, ITL {a.step_ms:g} ms.", "",
          "| scenario | client | mean TTFT ms | p99 TTFT ms | mean ITL ms | ITL error % | median ITL ms | p99 ITL ms | sim worst timer late ms |",
          "|---|---|---|---|---|---|---|---|---|"]
    for sc in main_scenarios:
        for client in ("dsdeploy", "bench_serving"):
            rs = pick(client, sc["name"])
            L.append(f"| c={sc['c']} | {client} | {fmt(med([r['mean_ttft_ms'] for r in rs]), 2)} | "
                     f"{fmt(med([r['p99_ttft_ms'] for r in rs]), 2)} | {fmt(med([r['mean_itl_ms'] for r in rs]))} | "
                     f"{fmt(med([r['itl_err_pct'] for r in rs]), 2)} | {fmt(med([r['median_itl_ms'] for r in rs]))} | "
                     f"{fmt(med([r['p99_itl_ms'] for r in rs]))} | {fmt(med([r['sim_worst_late_ms'] for r in rs]), 2)} |")
    L += ["", f"## Highest token rate before the client distorts ITL (c=256, {a.sweep_prompts} prompts)", "",
          "Offered rate = 256 streams / decode step. A client *sustains* a step while its mean ITL is within 5 % of the "
          "step and its own CPU use stays below 95 % of a core. When both clients fail at the same step and the "
          "simulator's timers ran late, the simulator (one pinned core) is the limit, not the client.", "",
          "| step ms | offered tok/s | client | measured tok/s | mean ITL ms | ITL error % | client CPU util | CPU s/1k | sim worst late ms | sustained |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    best = {}
    for sc in sweep:
        offered = sc["c"] / sc["step"] * 1000
        for client in ("dsdeploy", "bench_serving"):
            rs = pick(client, sc["name"])
            err, util = med([r["itl_err_pct"] for r in rs]), med([r["cpu_util"] for r in rs])
            ok = err is not None and err <= 5 and util is not None and util < 0.95
            if ok:
                best[client] = max(best.get(client, 0), offered)
            L.append(f"| {sc['step']:g} | {offered:.0f} | {client} | {fmt(med([r['output_throughput'] for r in rs]), 0)} | "
                     f"{fmt(med([r['mean_itl_ms'] for r in rs]))} | {fmt(err, 2)} | {fmt(util, 2)} | "
                     f"{fmt(med([r['cpu_per_1k'] for r in rs]), 4)} | {fmt(med([r['sim_worst_late_ms'] for r in rs]), 2)} | "
                     f"{'yes' if ok else 'no'} |")
    L += ["", "Highest offered rate sustained: " + ", ".join(
        f"{c} {best[c]:.0f} tok/s" if c in best else f"{c} none" for c in ("dsdeploy", "bench_serving")), ""]
    L += ["## Every run", "", "| scenario | repeat | client | rc | wall s | CPU s | run CPU s | run CPU s, subtracted | tokens | "
          "CPU s/1k | mean TTFT | mean ITL | util | load1 |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        L.append(f"| {r['scenario']} | {r['repeat']} | {r['client']} | {r['rc']} | {r['wall_s']:.2f} | {r['cpu_s']:.3f} | "
                 f"{fmt(r['main_cpu_s'])} | {fmt(r.get('run_cpu_subtracted_s'))} | {r['tokens']} | {fmt(r['cpu_per_1k'], 4)} | "
                 f"{fmt(r['mean_ttft_ms'], 2)} | "
                 f"{fmt(r['mean_itl_ms'])} | {fmt(r['cpu_util'], 2)} | {r['load1']:.2f} |")
    os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
    with open(a.report, "w") as f:
        f.write("\n".join(L) + "\n")
    print(f"wrote {a.report}")
    failed = [r for r in runs if r["rc"] != 0]
    if failed:
        print(f"{len(failed)} runs exited non-zero: " + ", ".join(f"{r['scenario']}/{r['client']}" for r in failed),
              file=sys.stderr)


if __name__ == "__main__":
    main()
