"""Run the whole center natively (no Docker): Kafka from Maven Central, FerretDB built with Go, every service.

Usage: python -m deploy.native.stack up|down|ps|logs [name] [--infra-only]
Downloads and builds are cached in .cache/ (or $CC_CACHE_DIR); pid files and logs live in .run/ (or $CC_RUN_DIR).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from deploy.native import ferretdb_patch

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CC_CACHE_DIR", ROOT / ".cache"))
KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
FERRETDB_VERSION = "v1.24.2"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
# FerretDB's live heap is small (tens of MB) and every request decodes whole documents, so at Go's default
# (collect when the heap doubles) a fifth of its CPU went to the collector; at 400 its CPU per complaint fell
# 78 → 59 ms for 54 → 61 MB resident (docs/adr/0016)
FERRETDB_GOGC = "400"

# name -> port of its HTTP endpoint (every service answers /healthz there)
SERVICES: dict[str, int] = {
    "web_intake": 8001,
    "phone_intake": 8002,
    "letter_intake": 8003,
    "fax_intake": 8004,
    "operator_api": 8000,
    "triage": 8011,
    "assignment": 8012,
    "followup": 8013,
    "archive": 8014,
}
INSTANCE_PORT_STEP = 100  # instance k of a service answers on its port + 100·(k-1): 8000, 8100, 8200 …
SMTP_PORT = 2525  # the fax intake's SMTP listener, stepped the same way


def instance_name(name: str, k: int) -> str:
    """Its pid and log file name: `triage` for the first instance, `triage.2` for the second."""
    return name if k == 1 else f"{name}.{k}"


def instance_port(name: str, k: int, base: int | None = None) -> int:
    return (base if base is not None else SERVICES[name]) + INSTANCE_PORT_STEP * (k - 1)


@dataclass
class Stack:
    """Where one native stack keeps its state and which ports it uses."""

    run_dir: Path
    kafka_port: int = 9092
    controller_port: int = 9093
    mongo_port: int = 27017
    pg_port: int = 15432
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"

    def pidfile(self, name: str) -> Path:
        return self.run_dir / "pids" / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"


def log(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s")


# --- downloads and builds (cached) ---------------------------------------------------------------

def kafka_libs() -> Path:
    """Resolve the Kafka broker and its log4j2 SLF4J binding from Maven Central into the cache."""
    libs = CACHE / f"kafka-{KAFKA_VERSION}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    pom = libs.parent / "pom.xml"
    template = (Path(__file__).parent / "kafka-pom.xml").read_text()
    pom.write_text(template.replace("@KAFKA_VERSION@", KAFKA_VERSION).replace("@LOG4J_VERSION@", LOG4J_VERSION))
    log(f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central (once)")
    subprocess.run(
        ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(pom), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        check=True,
    )
    marker.touch()
    return libs


def ferretdb_bin() -> Path:
    """Build FerretDB with Go from the module proxy into the cache.

    `go install …@v1.24.2` builds a binary that panics at start: the module zip lacks the
    generated build/version/version.txt. So we copy the module source, write that file, and build.
    """
    binary = CACHE / "bin" / f"ferretdb-{FERRETDB_VERSION}-{ferretdb_patch.TAG}"
    if binary.exists():
        return binary
    log(f"building FerretDB {FERRETDB_VERSION} with Go (once, about 2 minutes)")
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        check=True, capture_output=True, text=True,
    )
    src_dir = Path(json.loads(out.stdout)["Dir"])
    work = CACHE / f"ferretdb-src-{FERRETDB_VERSION}"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(src_dir, work)
    for p in work.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    (work / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    ferretdb_patch.apply(work)
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOFLAGS="-buildvcs=false", CGO_ENABLED="0")
    for module in ferretdb_patch.MODULES:
        subprocess.run(["go", "get", module], cwd=work, check=True, env=env)
    subprocess.run(["go", "build", "-o", str(binary), "./cmd/ferretdb"], cwd=work, check=True, env=env)
    shutil.rmtree(work)
    return binary


# --- processes -----------------------------------------------------------------------------------

def _spawn(stack: Stack, name: str, argv: list[str], env: dict[str, str] | None = None,
           cwd: Path | None = None, **popen: object) -> subprocess.Popen:
    stack.logfile(name).parent.mkdir(parents=True, exist_ok=True)
    stack.pidfile(name).parent.mkdir(parents=True, exist_ok=True)
    with open(stack.logfile(name), "ab") as logf:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env or os.environ.copy(), cwd=cwd or ROOT, start_new_session=True, **popen,
        )
    stack.pidfile(name).write_text(str(proc.pid))
    return proc


def running_pid(stack: Stack, name: str) -> int | None:
    try:
        pid = int(stack.pidfile(name).read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def stop(stack: Stack, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a process and every process of its group (children included), then forget its pid file."""
    pid = running_pid(stack, name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (_alive(pid) or group_members(pid)):
            time.sleep(0.05)
        if _alive(pid) or group_members(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _alive(pid) or group_members(pid):
                time.sleep(0.05)
    stack.pidfile(name).unlink(missing_ok=True)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return pid in group_members(pid) or _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start_kafka(stack: Stack) -> None:
    if running_pid(stack, "kafka") or port_open(stack.kafka_port):
        log(f"kafka already listening on {stack.bootstrap}")
        return
    libs = kafka_libs()
    kdir = stack.run_dir / "kafka"
    data = kdir / "data"
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    template = (Path(__file__).parent / "kafka-server.properties").read_text()
    props.write_text(
        template.replace("@PORT@", str(stack.kafka_port))
        .replace("@CONTROLLER_PORT@", str(stack.controller_port))
        .replace("@DATA@", str(data))
    )
    log4j = Path(__file__).parent / "log4j2.properties"
    java = ["java", "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={log4j}"]
    if not (data / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        subprocess.run(
            java + ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props),
                    "--ignore-formatted"],  # "=": a random id may start with "-"
            check=True, stdout=subprocess.DEVNULL,
        )
    jvm = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
    logfile = stack.logfile("kafka")
    start_at = logfile.stat().st_size if logfile.exists() else 0
    proc = _spawn(stack, "kafka", java[:1] + jvm + java[1:] + ["kafka.Kafka", str(props)])

    def started() -> bool:
        with open(logfile, "rb") as f:
            f.seek(start_at)
            return b"Kafka Server started" in f.read()

    wait_for(started, 120, "kafka", proc)
    log(f"kafka up on {stack.bootstrap}")


def postgres_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def ensure_postgres() -> Path | None:
    """Debian's PostgreSQL, installed once when we may (root with apt); None when it cannot be had."""
    bindir = postgres_bin_dir()
    if bindir is None and os.geteuid() == 0 and shutil.which("apt-get") and os.environ.get("CC_NO_APT") != "1":
        log("installing Debian's PostgreSQL for FerretDB (once)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env, check=False)
        bindir = postgres_bin_dir()
    return bindir


def _as_postgres() -> dict[str, str]:
    """initdb and postgres refuse to run as root: run them as Debian's postgres user then."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def start_postgres(stack: Stack) -> bool:
    """PostgreSQL for FerretDB's postgresql handler, in .run/, TCP on loopback only. False if unavailable."""
    if running_pid(stack, "postgres") or port_open(stack.pg_port):
        return True
    bindir = ensure_postgres()
    if bindir is None:
        return False
    data = stack.run_dir / "postgres"
    kw = _as_postgres()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if kw:
            shutil.chown(data, "postgres", "postgres")
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL, cwd="/", **kw)
    proc = _spawn(stack, "postgres", [
        str(bindir / "postgres"), "-D", str(data), "-p", str(stack.pg_port), "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
        # documents over 2 KB (case records, books) are compressed on every write and read: LZ4 instead of the
        # default pglz costs a fraction of the CPU (docs/adr/0013)
        "-c", "default_toast_compression=lz4",
        # short statements only: starting parallel workers (about 10 ms) cost more than a page's whole read
        "-c", "max_parallel_workers_per_gather=0",
        # no JIT compiling (about 15 ms a statement once a search's cost passes its threshold), and bitmaps of a
        # search's matches kept exact (lossy pages at 4 MB made it recheck every row of 99,000 pages)
        "-c", "jit=off", "-c", "work_mem=16MB",
        # flash storage: a page read at random costs about what a page read in sequence does. At 4 (spinning
        # disks) a table of a few hundred case records is scanned whole instead of through its _id index, and
        # every row's _id is then read out of its 7 KB compressed document (3.4 ms a look-up, docs/adr/0016)
        "-c", "random_page_cost=1.1",
        # CC_PG_STATS=1: count every statement FerretDB sends (rows, time) for `python -m benchmarks.db_profile`
        *(["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all"]
          if os.environ.get("CC_PG_STATS") == "1" else []),
    ], cwd=Path("/"), **kw)
    wait_for(lambda: port_open(stack.pg_port), 60, "postgres", proc)
    log(f"postgresql up on 127.0.0.1:{stack.pg_port}")
    return True


def ferretdb_env() -> dict[str, str]:
    """FerretDB's environment: Go's collector tuned (FERRETDB_GOGC, unless the caller sets GOGC)."""
    return {**os.environ, "GOGC": os.environ.get("GOGC", FERRETDB_GOGC)}


def start_ferretdb(stack: Stack) -> None:
    """FerretDB on PostgreSQL when it can be had (indexes, pushdown: see docs/adr/0004), else on SQLite."""
    if running_pid(stack, "ferretdb") or port_open(stack.mongo_port):
        log(f"mongodb-wire server already listening on {stack.mongo_port}")
        return
    binary = ferretdb_bin()
    if start_postgres(stack):
        backend = ["--handler=postgresql", f"--postgresql-url=postgres://postgres@127.0.0.1:{stack.pg_port}/postgres"]
    else:
        log("PostgreSQL not available: FerretDB falls back to its SQLite backend (slow beyond a few thousand cases)")
        data = stack.run_dir / "ferretdb"
        data.mkdir(parents=True, exist_ok=True)
        backend = ["--handler=sqlite", f"--sqlite-url=file:{data}/"]
    # CC_FERRETDB_DEBUG=host:port serves Go's profiler (/debug/pprof) for `go tool pprof`
    proc = _spawn(stack, "ferretdb", [
        str(binary), *backend, f"--listen-addr=127.0.0.1:{stack.mongo_port}", "--telemetry=disable",
        "--state-dir=-", "--debug-addr=" + os.environ.get("CC_FERRETDB_DEBUG", "-"), "--log-level=warn",
    ], env=ferretdb_env())
    wait_for(lambda: port_open(stack.mongo_port), 30, "ferretdb", proc)
    log(f"ferretdb up on 127.0.0.1:{stack.mongo_port} ({backend[0].split('=')[1]})")


def service_env(stack: Stack, name: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update({
        "CC_KAFKA_BOOTSTRAP": stack.bootstrap,
        "CC_MONGO_URL": stack.mongo_url,
        "CC_SERVICE_PORT": str(SERVICES[name]),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(stack.env)
    return env


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def start_service(stack: Stack, name: str, port: int | None = None, wait: bool = True,
                  instance: int = 1) -> subprocess.Popen | None:
    """Start instance `instance` of a service (`port`: the first instance's; later ones step from it)."""
    env = service_env(stack, name)
    port = instance_port(name, instance, port if port is not None else int(env["CC_SERVICE_PORT"]))
    env["CC_SERVICE_PORT"] = str(port)
    env["CC_INSTANCE_ID"] = f"{name}-{instance}"  # its leases survive its restarts (shared.lease)
    if name == "fax_intake" and instance > 1:  # one SMTP listener each; a load balancer fronts them in production
        smtp = int(env.get("CC_SMTP_PORT", SMTP_PORT))
        env["CC_SMTP_PORT"] = str(smtp + INSTANCE_PORT_STEP * (instance - 1)) if smtp else "0"
    pid_name = instance_name(name, instance)
    if running_pid(stack, pid_name):
        log(f"{pid_name} already running")
        return None
    proc = _spawn(stack, pid_name, [sys.executable, "-m", f"services.{name}"], env=env)
    if wait:
        wait_for(lambda: healthy(port), 60, name, proc)
    return proc


def up(stack: Stack, infra_only: bool = False, scale: int = 1) -> None:
    start_ferretdb(stack)
    start_kafka(stack)
    if infra_only:
        return
    for k in range(1, scale + 1):
        for name in SERVICES:
            start_service(stack, name, wait=False, instance=k)
    for k in range(1, scale + 1):
        for name in SERVICES:
            port = instance_port(name, k)
            wait_for(lambda p=port: healthy(p), 90, instance_name(name, k))
            log(f"{instance_name(name, k):<13} http://127.0.0.1:{port}  (healthz ok)")
    if scale > 1:
        log(f"{scale} instances of every service: consumers share their groups' partitions; the intakes and the "
            f"operator API answer on every instance's port (+{INSTANCE_PORT_STEP} each), fax SMTP on "
            f"{SMTP_PORT}, {SMTP_PORT + INSTANCE_PORT_STEP} …")
    log(f"kafka         {stack.bootstrap}")
    log(f"mongodb       {stack.mongo_url}")
    log("web form:     curl -X POST http://127.0.0.1:8001/api/v1/complaints ...   (see README)")
    log("CTI calls:    POST http://127.0.0.1:8002/api/v1/calls   scans: POST http://127.0.0.1:8003/api/v1/scans")
    log(f"scanner folder: {ROOT / '.run' / 'scan-inbox'}/<estate_id>/<letter|mailbox>/")
    log("fax-to-email: SMTP 127.0.0.1:2525 (AUTH: any user name, the fax key as password)")
    from deploy.dev_keys import dev_keys
    log("integration API keys (development; X-Api-Key header): "
        + "  ".join(f"{use}={key}" for use, key in dev_keys().items()))
    log("operator API: http://127.0.0.1:8000/docs   AsyncAPI: http://127.0.0.1:8000/asyncapi.json")
    log("sign in (development accounts, password Hengan-dev-2026): admin (group admin), op-lk / op-sr "
        "(operators of 湖畔花园 / 朝阳苑), handler-lk, supervisor-lk, manager-lk, quality-east")
    log("  curl -s -X POST http://127.0.0.1:8000/api/v1/auth/login -H 'content-type: application/json' "
        "-d '{\"username\": \"op-lk\", \"password\": \"Hengan-dev-2026\"}'   → token for Authorization: Bearer")


def running_instances(stack: Stack) -> list[str]:
    """Pid names of every started service instance (`triage`, `triage.2`, …), first instances first."""
    names = {p.stem for p in (stack.run_dir / "pids").glob("*.pid")}
    return sorted((n for n in names if n.split(".")[0] in SERVICES),
                  key=lambda n: (int(n.split(".")[1]) if "." in n else 1, list(SERVICES).index(n.split(".")[0])))


def down(stack: Stack) -> None:
    for name in [*running_instances(stack), "kafka", "ferretdb", "postgres"]:
        if running_pid(stack, name):
            log(f"stopping {name}")
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for clients to leave
        stop(stack, name, sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)


def ps(stack: Stack) -> None:
    for name in ["postgres", "ferretdb", "kafka", *dict.fromkeys([*SERVICES, *running_instances(stack)])]:
        pid = running_pid(stack, name)
        base, _, k = name.partition(".")
        port = instance_port(base, int(k or 1)) if base in SERVICES else None
        state = "running" if pid else "stopped"
        health = ""
        if pid and port:
            health = "healthy" if healthy(port) else "unhealthy"
        print(f"{name:<13} {state:<8} pid={pid or '-':<8} {health}")


def logs(stack: Stack, name: str | None, follow: bool) -> None:
    files = [stack.logfile(name)] if name else sorted((stack.run_dir / "logs").glob("*.log"))
    if follow:
        os.execvp("tail", ["tail", "-n", "50", "-F", *map(str, files)])
    for f in files:
        print(f"==> {f.name} <==")
        print("".join(f.read_text(errors="replace").splitlines(True)[-40:]))


def default_stack() -> Stack:
    return Stack(run_dir=Path(os.environ.get("CC_RUN_DIR", ROOT / ".run")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stack")
    parser.add_argument("command", choices=["up", "down", "ps", "logs", "fetch"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("--infra-only", action="store_true")
    parser.add_argument("--scale", type=int, default=int(os.environ.get("SCALE") or 1),
                        help="instances of every service (default 1, or $SCALE)")
    parser.add_argument("-f", "--follow", action="store_true")
    args = parser.parse_args(argv)
    stack = default_stack()
    if args.command == "up":
        try:
            up(stack, infra_only=args.infra_only, scale=max(1, args.scale))
        except Exception:
            log(f"start failed; see logs in {stack.run_dir / 'logs'}")
            raise
    elif args.command == "down":
        down(stack)
    elif args.command == "ps":
        ps(stack)
    elif args.command == "logs":
        logs(stack, args.name, args.follow)
    elif args.command == "fetch":
        kafka_libs()
        ferretdb_bin()


if __name__ == "__main__":
    main()
