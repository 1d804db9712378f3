#!/usr/bin/env python3
"""Memory of a burst of logins: starts a gatehouse binary on a fresh SQLite database,
fires N concurrent login attempts (each a real login page, CSRF cookie and form post),
and reports the server's resident memory idle, at its peak, and after an idle pause.

    python3 benches/login_burst.py target/release/gatehouse [--burst 150] [--idle 15]

Give two binaries to compare them side by side in one run (the figures of one machine
at one moment mean little alone; their ratio does)."""

import argparse
import html
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
PASSWORD = "the right password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cli(binary, env, *args, stdin=None):
    out = subprocess.run([binary, *args], env=env, input=stdin, capture_output=True,
                         text=True, check=True)
    return out.stdout


def attempt(base, authorize_url, results, i, users):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                         NoRedirect())
    # Each attempt from its own address (through the trusted proxy 127.0.0.1) and few
    # per account, so throttling lets every one through to the password check.
    opener.addheaders = [("X-Forwarded-For", f"10.1.{i // 250}.{i % 250}")]
    try:
        page = opener.open(authorize_url, timeout=120).read().decode()
        field = lambda name: html.unescape(
            re.search(f'name="{name}" value="([^"]*)"', page).group(1))
        form = urllib.parse.urlencode({
            "request": field("request"),
            "csrf_token": field("csrf_token"),
            "username": f"user{i % users}",
            "password": "a wrong password",
        }).encode()
        res = opener.open(base + "/login", data=form, timeout=120)
        results.append(res.status)
    except urllib.error.HTTPError as e:
        results.append(e.code)
    except Exception as e:  # a refused or dropped connection counts too
        results.append(type(e).__name__)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def run(binary, burst, idle):
    workdir = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, GATEHOUSE_DATABASE_URL=f"sqlite://{workdir}/g.db",
               GATEHOUSE_SECRET_KEY=SECRET, GATEHOUSE_ISSUER=base,
               GATEHOUSE_BIND=f"127.0.0.1:{port}", GATEHOUSE_TRUSTED_PROXIES="127.0.0.1",
               RUST_LOG="warn")
    users = max(1, burst // 3)
    for n in range(users):
        cli(binary, env, "users", "add", f"user{n}", "--password-stdin", stdin=PASSWORD + "\n")
    client = cli(binary, env, "clients", "create", "--name", "bench", "--public",
                 "--redirect-uri", "http://127.0.0.1/cb").split()[1]
    server = subprocess.Popen([binary, "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": client, "scope": "openid",
            "redirect_uri": "http://127.0.0.1/cb", "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256"})
        authorize = f"{base}/authorize?{query}"
        time.sleep(1)
        idle_before = rss_kib(server.pid)
        results = []
        threads = [threading.Thread(target=attempt, args=(base, authorize, results, i, users))
                   for i in range(burst)]
        start = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - start
        peak = rss_kib(server.pid, "VmHWM")
        time.sleep(idle)
        after = rss_kib(server.pid)
        codes = {}
        for r in results:
            codes[r] = codes.get(r, 0) + 1
        return idle_before, peak, after, took, codes
    finally:
        server.terminate()
        server.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binaries", nargs="+")
    p.add_argument("--burst", type=int, default=150)
    p.add_argument("--idle", type=int, default=15)
    a = p.parse_args()
    print(f"{'binary':<40} {'idle MiB':>9} {'peak MiB':>9} {'after MiB':>10} {'s':>6}  answers")
    for b in a.binaries:
        idle, peak, after, took, codes = run(b, a.burst, a.idle)
        print(f"{b:<40} {idle / 1024:>9.0f} {peak / 1024:>9.0f} {after / 1024:>10.0f} "
              f"{took:>6.1f}  {codes}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
