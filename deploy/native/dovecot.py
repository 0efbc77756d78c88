"""A private Dovecot IMAP server (Debian's dovecot-imapd) run from a config in a project folder, for the fax intake."""

from __future__ import annotations

import argparse
import contextlib
import grp
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from deploy.native.stack import group_members

DOVECOT = "/usr/sbin/dovecot"
DEFAULT_PORT = 1143
# the development mailbox created when no users are given (the server listens on 127.0.0.1 only)
DEFAULT_USERS = {"fax@example.test": "secret"}
# system users the Debian package creates: services run as the first, login processes as the second
INTERNAL_USER = "dovecot"
LOGIN_USER = "dovenull"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# Dovecot creates unix sockets such as <base_dir>/token-login/imap-urlauth; sun_path holds 107 bytes
_MAX_BASE_DIR = 107 - len("/token-login/imap-urlauth") - 8


def dovecot_binary() -> str:
    """Path of the dovecot master binary, or a RuntimeError saying which Debian package provides it."""
    if os.access(DOVECOT, os.X_OK):
        return DOVECOT
    raise RuntimeError(
        f"{DOVECOT} not found: install Debian's IMAP server with `apt-get install -y dovecot-imapd` "
        "(it pulls in dovecot-core); it is only run with the project's own config, never the system service"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def instance_name(run_dir: Path) -> str:
    """Name that tags every process of the server in run_dir (its titles read `dovecot-<name>/imap` etc.)."""
    return "cc-" + hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:10]


def _base_dir(run_dir: Path) -> Path:
    """Directory of Dovecot's sockets and pid file: run_dir/run, or /tmp/<instance>-run when that path is too long.

    Unix socket paths are limited to 107 bytes, and Dovecot resolves symlinks in base_dir, so a long run_dir
    (pytest's tmp_path can be) gets a real short directory, removed again when the server stops.
    """
    inside = run_dir.resolve() / "run"
    if len(str(inside)) <= _MAX_BASE_DIR:
        return inside
    return Path(tempfile.gettempdir()) / f"{instance_name(run_dir)}-run"


def _conf_quote(value: str | Path) -> str:
    text = str(value)
    if any(c in text for c in '"\\\n'):
        raise ValueError(f"unsupported character in dovecot config value {text!r}")
    return f'"{text}"'


def _passwd_line(user: str, password: str) -> str:
    for what, value in (("user name", user), ("password", password)):
        if not value or any(c in value for c in ":\n\r\0"):
            raise ValueError(f"IMAP {what} must be non-empty without ':' or line breaks: {value!r}")
    if "/" in user or user.startswith("."):
        raise ValueError(f"IMAP user name names a maildir folder, so no '/' or leading '.': {user!r}")
    return f"{user}:{{PLAIN}}{password}::::::\n"


def write_config(run_dir: Path, port: int, users: dict[str, str]) -> Path:
    """Write run_dir/dovecot.conf (and its passwd-file and directories); return the config's path.

    Everything Dovecot writes lives under run_dir: sockets and master.pid in run/ (see _base_dir for long
    paths), state in state/, its log in dovecot.log, the users' maildirs in mail/<user>/.

    Run as root, Dovecot refuses to access mail as uid/gid 0, so mail belongs to the `dovecot` system user.
    Test folders are often under a 0700 root-owned parent (pytest's /tmp/pytest-of-root), which that user
    cannot traverse: so mail processes chroot into run_dir/mail (done as root, before dropping privileges)
    and the auth process, which reads the passwd-file, runs as root. Run as an ordinary user, every
    process runs as that user and nothing is chrooted.
    """
    run_dir = run_dir.resolve()
    if any(c.isspace() for c in str(run_dir)):
        raise ValueError(f"dovecot's passwd-file args cannot hold a path with white space: {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    mail = run_dir / "mail"
    state = run_dir / "state"
    for d in (mail, state):
        d.mkdir(exist_ok=True)
    base = _base_dir(run_dir)
    base.mkdir(mode=0o755, exist_ok=True)

    passwd = run_dir / "users.passwd"
    passwd.write_text("".join(_passwd_line(u, p) for u, p in users.items()))
    passwd.chmod(0o600)
    for user in users:  # Dovecot chdirs to the home at login: an absent one logs an error on a first login
        (mail / user).mkdir(mode=0o700, exist_ok=True)

    if _as_root():
        try:
            internal = pwd.getpwnam(INTERNAL_USER)
            pwd.getpwnam(LOGIN_USER)
        except KeyError as e:
            raise RuntimeError(
                f"system users {INTERNAL_USER!r}/{LOGIN_USER!r} missing: reinstall dovecot-core, which creates them"
            ) from e
        uid, gid = internal.pw_uid, internal.pw_gid
        for d in [mail, *mail.iterdir()]:
            if d.is_dir():
                os.chown(d, uid, gid)
        mail_user, mail_group = INTERNAL_USER, grp.getgrgid(gid).gr_name
        internal_user, login_user = INTERNAL_USER, LOGIN_USER
        mail_settings = f"""mail_chroot = {_conf_quote(mail)}
valid_chroot_dirs = {_conf_quote(mail)}
mail_home = /%u
mail_location = maildir:~
"""
        services = """service auth {
  user = root
}
"""
    else:
        me = pwd.getpwuid(os.geteuid())
        uid, gid = me.pw_uid, me.pw_gid
        mail_user, mail_group = me.pw_name, grp.getgrgid(gid).gr_name
        internal_user = login_user = me.pw_name
        mail_settings = f"""default_internal_group = {mail_group}
mail_home = {_conf_quote(f"{mail}/%u")}
mail_location = maildir:~
"""
        services = """service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
"""

    conf = run_dir / "dovecot.conf"
    conf.write_text(f"""# written by deploy/native/dovecot.py; a private IMAP server, not the system's /etc/dovecot
instance_name = {instance_name(run_dir)}
base_dir = {_conf_quote(base)}
state_dir = {_conf_quote(state)}
log_path = {_conf_quote(run_dir / "dovecot.log")}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_uid = {mail_user}
mail_gid = {mail_group}
first_valid_uid = {uid}
first_valid_gid = {gid}
{mail_settings}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {int(port)}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{services}""")
    return conf


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _greets(port: int) -> bool:
    """True once an IMAP server answers on the port with its `* OK` greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(256).startswith(b"* OK")
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
    except FileNotFoundError:
        return ""


def _logs_tail(run_dir: Path) -> str:
    parts = []
    for name in ("dovecot.out", "dovecot.log"):
        text = _tail(run_dir / name)
        if text:
            parts.append(f"--- {run_dir / name} ---\n{text}")
    return "\n".join(parts) or "(no log output)"


def start_dovecot(run_dir: Path, port: int = DEFAULT_PORT, users: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `dovecot -F -c run_dir/dovecot.conf` in its own session; return once it greets on 127.0.0.1:port."""
    binary = dovecot_binary()
    run_dir = run_dir.resolve()
    if _port_open(port):
        raise RuntimeError(f"cannot start dovecot: 127.0.0.1:{port} is already in use")
    conf = write_config(run_dir, port, DEFAULT_USERS if users is None else users)
    with open(run_dir / "dovecot.out", "ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [binary, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=run_dir, start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not _greets(port):
        if proc.poll() is not None:
            stop_dovecot(proc)
            raise RuntimeError(f"dovecot exited with code {proc.returncode} before it was ready\n{_logs_tail(run_dir)}")
        if time.monotonic() > deadline:
            stop_dovecot(proc)
            raise RuntimeError(f"dovecot not accepting on 127.0.0.1:{port} after {START_TIMEOUT:.0f}s\n"
                               f"{_logs_tail(run_dir)}")
        time.sleep(0.05)
    return proc


def _stop_group(pgid: int, reap=None) -> None:
    """SIGTERM the group, wait for all of it (reaping the master via `reap` when it is our child), SIGKILL after 10s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    killed = False
    while True:
        if reap is not None:
            reap()
        if not group_members(pgid):
            return
        if time.monotonic() > deadline:
            if killed:
                raise RuntimeError(f"dovecot processes {group_members(pgid)} survived SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5
        time.sleep(0.05)


def _conf_of(args) -> Path | None:
    args = [str(a) for a in args]
    return Path(args[args.index("-c") + 1]) if "-c" in args else None


def _remove_short_base(run_dir: Path) -> None:
    base = _base_dir(run_dir)
    if base.parent != run_dir.resolve():
        shutil.rmtree(base, ignore_errors=True)


def stop_dovecot(proc: subprocess.Popen) -> None:
    """Stop a server from start_dovecot: its master and every helper (log, config, auth, imap-login, imap...)."""
    if proc.poll() is None or group_members(proc.pid):
        _stop_group(proc.pid, reap=proc.poll)
    proc.wait()
    conf = _conf_of(proc.args)
    if conf is not None:
        _remove_short_base(conf.parent)


# --- command line: python -m deploy.native.dovecot up|down RUN_DIR ------------------------------------

def _pidfile(run_dir: Path) -> Path:
    return run_dir / "dovecot.pid"


def running_pid(run_dir: Path) -> int | None:
    try:
        pid = int(_pidfile(run_dir).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"dovecot" in cmdline and group_members(pid) else None


def up(run_dir: Path, port: int, users: dict[str, str] | None) -> None:
    pid = running_pid(run_dir)
    if pid is not None:
        print(f"[dovecot] already running (pid {pid}) from {run_dir}", flush=True)
        return
    started = time.monotonic()
    proc = start_dovecot(run_dir, port, users)
    _pidfile(run_dir).write_text(str(proc.pid))
    names = ", ".join(DEFAULT_USERS if users is None else users)
    print(f"[dovecot] imap://127.0.0.1:{port} up in {time.monotonic() - started:.1f}s (pid {proc.pid}, "
          f"users {names}); log {run_dir / 'dovecot.log'}", flush=True)


def down(run_dir: Path) -> None:
    pid = running_pid(run_dir)
    if pid is None:
        print(f"[dovecot] not running from {run_dir}", flush=True)
    else:
        _stop_group(pid)
        print(f"[dovecot] stopped (pid {pid})", flush=True)
    _pidfile(run_dir).unlink(missing_ok=True)
    _remove_short_base(run_dir)


def _user_arg(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.native.dovecot", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("run_dir", type=Path, help="folder for the config, pid file, logs and maildirs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--user", type=_user_arg, action="append", metavar="USER:PASSWORD",
                        help=f"mailbox to create (repeatable); default {', '.join(DEFAULT_USERS)}")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if args.command == "up":
        up(run_dir, args.port, dict(args.user) if args.user else None)
    else:
        down(run_dir)


if __name__ == "__main__":
    main()
