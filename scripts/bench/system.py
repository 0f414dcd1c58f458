"""LocalStack as a whole: make up / down timings, the RSS of all its processes (sampled over the
run), make deploy-local timings and `make test` from stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from launcher import host_processes, pidfile

from .settings import ROOT, Settings


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def bench_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LOCALSTACK_PORT=str(settings.port),
        LOCALSTACK_MODE="host",
        AWS_ENDPOINT_URL=settings.endpoint,
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    return env


def hostmode(settings: Settings, *args: str) -> float:
    """Run `make up` / `make down`'s command (scripts/hostmode.py); seconds it took."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "hostmode.py"), *args],
        env=bench_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seconds = time.perf_counter() - started
    # its progress (and a stopped LocalStack's log tail) is noise here: the last line only
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("[hostmode]")]
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise RuntimeError(f"hostmode {' '.join(args)} exited {proc.returncode}")
    log(f"hostmode {' '.join(args)}: {seconds:.1f} s; {lines[-1] if lines else ''}")
    return seconds


# --- memory ---------------------------------------------------------------------------------


def localstack_pids() -> list[int]:
    """Pids of the LocalStack on LOCALSTACK_PORT and every process it started (as `make down`
    finds them); empty when none runs."""
    info = pidfile.read()
    if host_processes.leader_alive(info) is None:
        return []
    return sorted(p.pid for p in host_processes.our_processes(info))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages split between the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory_mb() -> dict:
    """RSS and PSS summed over LocalStack's processes (a checkpoint, not the sampler)."""
    pids = localstack_pids()
    return {"rss_mb": sum(rss_mb(p) for p in pids), "pss_mb": sum(pss_mb(p) for p in pids),
            "processes": len(pids)}


def total_rss_mb() -> tuple[float, int]:
    """Summed RSS of LocalStack's processes (MB) and how many there are."""
    pids = localstack_pids()
    return sum(rss_mb(p) for p in pids), len(pids)


def process_table() -> list[dict]:
    rows = []
    for pid in localstack_pids():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        rows.append({"pid": pid, "cmd": cmd[:100], "rss_mb": round(rss_mb(pid), 1)})
    return rows


class RssSampler:
    """Samples LocalStack's total RSS in a thread; `phase` labels what the bench is doing."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.phase = "start"
        self.samples: list[tuple[float, float, int, str]] = []  # (t, MB, processes, phase)
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            mb, n = total_rss_mb()
            if n:
                self.samples.append((time.monotonic() - self._t0, mb, n, self.phase))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, phase: str | None = None) -> float:
        values = [mb for _, mb, _, p in self.samples if phase is None or p == phase]
        return max(values, default=0.0)

    def as_dict(self) -> dict:
        return {
            "interval_s": self.interval,
            "samples": [
                {"t": round(t, 2), "rss_mb": round(mb, 1), "processes": n, "phase": p}
                for t, mb, n, p in self.samples
            ],
        }


# --- make up, deploy, test --------------------------------------------------------------------


def measure_up(settings: Settings) -> dict:
    """`make up` from stopped, init included, `up_runs` times; RSS idle after each start (the
    first start too: the first one also installs whatever is missing, so it is not timed)."""
    hostmode(settings, "up")
    time.sleep(1)
    first_rss, _ = total_rss_mb()
    times, idle = [], []
    for _ in range(settings.up_runs):
        hostmode(settings, "down")
        times.append(hostmode(settings, "up"))
        time.sleep(1)  # settle: init's last process exits
        idle.append(total_rss_mb()[0])
    return {"up_s": times, "first_start_idle_rss_mb": first_rss, "idle_rss_mb": idle,
            "idle_processes": process_table()}


def app_copy() -> Path:
    """A copy of the app, so a handler can be edited without touching functions/."""
    app = Path(tempfile.mkdtemp(prefix="bench-app-"))
    for name in ("template.yaml", "functions", "statemachines"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, app / name)
    return app


def deploy_local(settings: Settings, stack: str, template: Path | None = None) -> float:
    env = bench_env(settings)
    env["STACK_NAME"] = stack
    cmd = [sys.executable, str(ROOT / "scripts" / "deploy.py")]
    if template is not None:
        cmd += ["--template", str(template)]
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure_layer_build() -> dict:
    """The dependencies layer's pip build from scratch (in a scratch dir; pip's own cache as it
    is), once; then the deploy's layer in .build/, built untimed if missing. A deploy builds the
    layer once per requirements change, so the full deploy is timed with it built: its pip
    build is this informational row, not part of the full deploy's time."""
    from artifacts import build_layer  # scripts/ is on the bench's path

    scratch = Path(tempfile.mkdtemp(prefix="bench-layer-"))
    try:
        started = time.perf_counter()
        zip_path, _ = build_layer(build_dir=scratch)
        seconds = time.perf_counter() - started
        size_mb = zip_path.stat().st_size / 1e6
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"layer build from scratch: {seconds:.1f} s ({size_mb:.1f} MB zipped)")
    build_layer()
    return {"layer_build_s": seconds, "layer_zip_mb": size_mb}


def measure_deploy(settings: Settings, cfn) -> dict:
    """deploy-local of a fresh stack (full; the layer built beforehand, untimed: it is
    measure_layer_build's row), again (no change), after a handler edit."""
    stack = f"bench-{uuid.uuid4().hex[:6]}"
    app = app_copy()
    result = measure_layer_build()
    try:
        for label in ("full", "no_change", "code_change"):
            if label == "code_change":  # a comment in one handler: new code for every function
                with (app / "functions" / "users" / "get_user.py").open("a") as f:
                    f.write(f"# bench {uuid.uuid4().hex}\n")
            result[f"deploy_{label}_s"] = deploy_local(settings, stack, app / "template.yaml")
    finally:
        shutil.rmtree(app, ignore_errors=True)
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return result


def measure_make_test(settings: Settings) -> dict:
    """`make test` from a stopped LocalStack on the bench's port, venvs present."""
    hostmode(settings, "down")
    started = time.perf_counter()
    proc = subprocess.run(
        ["make", "--no-print-directory", "test"], cwd=ROOT, env=bench_env(settings),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seconds = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    # what failed, and pytest's summary line, so a red run can be traced from latest.json
    failures = [ln for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    summary = [ln for ln in lines if ln.startswith("=") and " in " in ln][-1:]
    if failures:
        log("make test failed:\n" + "\n".join(failures))
    return {"make_test_s": seconds, "make_test_rc": proc.returncode,
            "make_test_tail": (summary or lines[-1:] or [""])[0], "make_test_failures": failures}


def machine() -> dict:
    load1, load5, load15 = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg": [load1, load5, load15],
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
