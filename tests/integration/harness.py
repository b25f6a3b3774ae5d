"""Shared helpers for integration tests: real processes on 127.0.0.1, free
ports, bounded waits, and cleanup. Standard library only."""
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("COALMON_BIN") or os.path.join(os.path.dirname(__file__), "../../build/bin")
SOURCE = os.environ.get("COALMON_SOURCE") or os.path.join(os.path.dirname(__file__), "../..")


BJ = datetime.timezone(datetime.timedelta(hours=8))
# One "now" per test run: rows or tickets sent twice (a re-import, a
# correction) carry the same times even when the clock crosses a second.
NOW = datetime.datetime.now(BJ)


def bj(delta_s=0):
    """Beijing time `delta_s` seconds from the run's NOW, as the API writes it."""
    return (NOW + datetime.timedelta(seconds=delta_s)).strftime("%Y-%m-%d %H:%M:%S")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Debian's interpreter, where python3-pymodbus is installed (not a pyenv shim).
DEBIAN_PYTHON = "/usr/bin/python3"
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")


def peer_argv(script, *args):
    """argv running peers/<script>, an independent (pymodbus) peer, with args."""
    return [DEBIAN_PYTHON, os.path.join(PEERS, script), *map(str, args)]


def pty_pair(c, d):
    """A socat pseudo-terminal pair in d, as a serial line: (sim end, collector end)."""
    a, b = os.path.join(d, "ttySIM"), os.path.join(d, "ttyCOL")
    c.proc(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"], "socat")
    wait_until(lambda: os.path.exists(a) and os.path.exists(b), timeout=10, what="the pty pair")
    return a, b


def tmpdir(prefix="coalmon-test-"):
    return tempfile.mkdtemp(prefix=prefix)


class Proc:
    """A child process whose output goes to a log file; killed on exit."""

    def __init__(self, args, name, cwd=None, env=None):
        self.name = name
        self.log_path = os.path.join(tempfile.gettempdir(), f"{name}-{os.getpid()}-{time.time_ns()}.log")
        self.log = open(self.log_path, "w+b")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd,
                                  env=full_env, start_new_session=True)

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return True
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: '{needle}' not seen in output:\n{self.output()}")

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Ask the process to stop; returns its exit code. Kills it if it hangs."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
                raise AssertionError(f"{self.name} did not stop within {timeout}s:\n{self.output()}")
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        self.log.close()


def run(args, timeout=60, input=None, env=None):
    """Run a program to completion; returns CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input,
                          env=full_env)


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, parsed JSON or text, headers)."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status, rh = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, rh = e.read(), e.code, e.headers
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text), rh
    except ValueError:
        return status, text, rh


def wait_until(predicate, timeout=30, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Cleanup:
    """Context manager collecting processes and folders to remove at the end."""

    def __init__(self):
        self.procs, self.dirs = [], []

    def proc(self, *a, **kw):
        p = Proc(*a, **kw)
        self.procs.append(p)
        return p

    def dir(self, prefix="coalmon-test-"):
        d = tmpdir(prefix)
        self.dirs.append(d)
        return d

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if exc[0] is not None:
                sys.stderr.write(f"--- output of {p.name} ---\n{p.output()}\n")
            p.kill()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        return False


def main(tests):
    """Run test functions in order; print each; exit non-zero on the first failure."""
    for t in tests:
        start = time.monotonic()
        t()
        print(f"ok {t.__name__} ({time.monotonic() - start:.1f}s)", flush=True)
