"""`make bench`: measure the kit's speed and memory targets in one run, on its own LocalStack.

Targets (medians; differences are taken within this one run, as these machines are noisy):
  make up, stopped -> ready, venv present     <= 8 s
  Lambda cold start (first invoke)            <= 150 ms
  warm Invoke p50 - trivial call p50          <= 10 ms
  idle RSS, LocalStack + backends             <= 600 MB
  make deploy-local, full / no change         <= 15 s / <= 5 s
  make deploy-local after a handler edit      <= 5 s

Starts host-mode LocalStack on BENCH_PORT (default 4599) so a running dev instance is left alone,
and stops it at the end. Results go to stdout and .build/bench.json.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import boto3

from launcher import host_processes, pidfile

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_PORT", "4599"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
UP_RUNS = int(os.environ.get("BENCH_UP_RUNS", "3"))
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "7"))
WARM_RUNS = int(os.environ.get("BENCH_WARM_RUNS", "300"))
RUNTIME = os.environ.get("BENCH_RUNTIME", "python3.13")

TRIVIAL_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LOCALSTACK_PORT=str(PORT),
        LOCALSTACK_MODE="host",
        AWS_ENDPOINT_URL=ENDPOINT,
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    return env


def hostmode(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "hostmode.py"), *args],
        env=bench_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def measure_up() -> list[float]:
    hostmode("up")  # installs whatever is missing; not timed
    times = []
    for _ in range(UP_RUNS):
        hostmode("down")
        times.append(hostmode("up"))
    return times


def localstack_processes() -> list[int]:
    """Pids of the LocalStack listening on PORT and every process it started, found the way
    `make down` finds them (LOCALSTACK_PORT is PORT once main() has started)."""
    info = pidfile.read()
    if host_processes.leader_alive(info) is None:
        raise SystemExit(f"no LocalStack process found for port {PORT}")
    return sorted(p.pid for p in host_processes.our_processes(info))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def describe_processes(pids: list[int]) -> list[tuple[int, str, float]]:
    rows = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        except OSError:
            continue
        rows.append((pid, cmd, rss_mb(pid)))
    return rows


def trivial_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", TRIVIAL_HANDLER)
    return buf.getvalue()


def create_function(lam, name: str) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role="arn:aws:iam::000000000000:role/bench",
        Handler="app.handler",
        Code={"ZipFile": trivial_zip()},
        Timeout=10,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure_lambda(lam) -> dict:
    names = [f"bench-cold-{uuid.uuid4().hex[:8]}" for _ in range(COLD_RUNS)]
    cold = []
    try:
        for name in names:
            create_function(lam, name)
            cold.append(timed(lambda n=name: lam.invoke(FunctionName=n, Payload=b"{}")))
        warm_fn = names[0]
        for _ in range(20):  # warm both paths up
            lam.invoke(FunctionName=warm_fn, Payload=b"{}")
            lam.get_account_settings()
        warm, trivial = [], []
        for _ in range(WARM_RUNS):  # interleaved, so drift hits both alike
            warm.append(timed(lambda: lam.invoke(FunctionName=warm_fn, Payload=b"{}")))
            trivial.append(timed(lam.get_account_settings))
    finally:
        for name in names:
            lam.delete_function(FunctionName=name)
    return {"cold_ms": cold, "warm_ms": warm, "trivial_ms": trivial}


def measure_deploy() -> dict:
    env = bench_env()
    env["STACK_NAME"] = f"bench-{uuid.uuid4().hex[:6]}"
    python = str(ROOT / ".venv" / "bin" / "python")
    # a copy of the app, so the code-change run can edit a handler without touching functions/
    app = Path(tempfile.mkdtemp(prefix="bench-app-"))
    for name in ("template.yaml", "functions", "statemachines"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, app / name)
    deploy = [python, str(ROOT / "scripts" / "deploy.py"), "--template", str(app / "template.yaml")]
    result = {}
    try:
        for label in ("full", "no_change", "code_change"):
            if label == "code_change":  # a comment in one handler: new code for every function
                with (app / "functions" / "users" / "get_user.py").open("a") as f:
                    f.write(f"# bench {uuid.uuid4().hex}\n")
            started = time.perf_counter()
            subprocess.run(deploy, env=env, check=True, stdout=subprocess.DEVNULL)
            result[f"deploy_{label}_s"] = time.perf_counter() - started
    finally:
        shutil.rmtree(app, ignore_errors=True)
    cfn = boto3.client("cloudformation", endpoint_url=ENDPOINT)
    cfn.delete_stack(StackName=env["STACK_NAME"])
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=env["STACK_NAME"], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    return result


def p50(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    os.environ.update(bench_env())
    results: dict = {"port": PORT, "runtime": RUNTIME}
    try:
        log(f"bench: make up x{UP_RUNS} on port {PORT}")
        results["up_s"] = measure_up()
        pids = localstack_processes()
        procs = describe_processes(pids)
        results["idle_rss_mb"] = sum(rss for _, _, rss in procs)
        results["idle_processes"] = [
            {"pid": p, "cmd": c, "rss_mb": round(r, 1)} for p, c, r in procs
        ]
        lam = boto3.client("lambda", endpoint_url=ENDPOINT, region_name="us-east-1")
        log(f"bench: {COLD_RUNS} cold starts, {WARM_RUNS} warm invokes")
        results.update(measure_lambda(lam))
        if os.environ.get("BENCH_SKIP_DEPLOY") != "1":
            log("bench: deploy-local full, no-change and after a handler edit")
            results.update(measure_deploy())
    finally:
        hostmode("down")

    warm_p50, trivial_p50 = p50(results["warm_ms"]), p50(results["trivial_ms"])
    rows = [
        ("make up (stopped -> ready), median", f"{p50(results['up_s']):.2f} s", "<= 8 s"),
        ("idle RSS, LocalStack + backends", f"{results['idle_rss_mb']:.0f} MB", "<= 600 MB"),
        ("Lambda cold start, median", f"{p50(results['cold_ms']):.0f} ms", "<= 150 ms"),
        ("warm Invoke p50", f"{warm_p50:.1f} ms", ""),
        ("trivial call p50 (same client)", f"{trivial_p50:.1f} ms", ""),
        ("warm Invoke p50 - trivial p50", f"{warm_p50 - trivial_p50:.1f} ms", "<= 10 ms"),
    ]
    if "deploy_full_s" in results:
        rows += [
            ("deploy-local, full", f"{results['deploy_full_s']:.1f} s", "<= 15 s"),
            ("deploy-local, no change", f"{results['deploy_no_change_s']:.1f} s", "<= 5 s"),
            ("deploy-local, handler edited", f"{results['deploy_code_change_s']:.1f} s", "<= 5 s"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric'.ljust(width)}  {'measured':>10}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>10}  {target}")
    out = ROOT / ".build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw numbers: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
