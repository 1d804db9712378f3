#!/usr/bin/env python3
"""Soak: many short-lived tokens, and table sizes over time.

usage: benches/soak.py DATABASE_URL [--tokens N] [--flows N] [--refreshes N]
                       [--workers N] [--sample SECONDS]

Starts target/release/gatehouse (GATEHOUSE_BIN picks another) on DATABASE_URL with short
lifetimes (access tokens 5 s, codes 5 s, refresh tokens 30 s, sessions 60 s), then issues
N client-credentials tokens and runs N authorization-code flows (the login form every
--login-every flows, else the session answers; code exchange, then refreshes), while printing the row count of every table that grows with
traffic every few seconds, and running `gatehouse cleanup` as often (the server's own
housekeeping runs every five minutes; this makes a short run show the same). Table sizes
should level off instead of growing with the number of tokens.
The issue's full run: --tokens 1000000 --flows 50000 on each backend."""
import argparse, base64, collections, hashlib, html, http.client, json, os, re, secrets, socket
import subprocess, sys, threading, time, urllib.parse

BIN = os.environ.get("GATEHOUSE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "target", "release", "gatehouse")
SECRET = "soak-benchmark-secret-0123456789abcdef0123"
TABLES = ["authorization_codes", "refresh_tokens", "revoked_tokens", "used_assertions",
          "login_sessions", "session_clients", "audit_events", "login_failures"]


def env(url, port):
    return {
        "PATH": os.environ.get("PATH", ""), "GATEHOUSE_DATABASE_URL": url,
        "GATEHOUSE_SECRET_KEY": SECRET, "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_ISSUER": f"http://127.0.0.1:{port}", "GATEHOUSE_ACCESS_TOKEN_TTL": "5s",
        "GATEHOUSE_ID_TOKEN_TTL": "5s", "GATEHOUSE_CODE_TTL": "5s",
        "GATEHOUSE_REFRESH_TOKEN_TTL": "30s", "GATEHOUSE_REFRESH_TOKEN_IDLE_TTL": "30s",
        "GATEHOUSE_SESSION_TTL": "60s", "GATEHOUSE_AUDIT_RETENTION": "60s",
    }


def cli(e, *args, stdin=None):
    out = subprocess.run([BIN, *args], env=e, input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"gatehouse {' '.join(args)}: {out.stderr}")
    return out.stdout


def counts(url):
    if url.startswith("sqlite://"):
        import sqlite3
        db = sqlite3.connect(url[len("sqlite://"):])
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    q = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    out = subprocess.run(["psql", url, "-At", "-F", " ", "-c", q], capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (l.split() for l in out.splitlines())}


class Conn:
    """One keep-alive HTTP connection with a cookie jar."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port)
        self.cookies = {}

    def req(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            body = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, val = v.split(";")[0].split("=", 1)
                self.cookies[name] = val
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def basic(cid, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()}


def cc_worker(port, cid, secret, n, errors):
    c = Conn(port)
    for _ in range(n):
        s, _, _ = c.req("POST", "/token", {"grant_type": "client_credentials"}, basic(cid, secret))
        if s != 200:
            errors.append(s)


def field(page, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else None


def flow_worker(port, cid, secret, n, refreshes, login_every, user, errors):
    c = None
    for i in range(n):
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": cid, "redirect_uri": "https://rp.example/cb",
            "scope": "openid offline_access", "state": "s", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        if i % login_every == 0:
            # A new browser: the authorization request asks it to sign in.
            c = Conn(port)
            s, h, page = c.req("GET", f"/authorize?{q}")
            page = page.decode()
            s, h, _ = c.req("POST", "/login", {"csrf_token": field(page, "csrf_token"),
                                               "request": field(page, "request"),
                                               "username": user, "password": "soak password 1"})
        else:
            # The same browser again: its session answers at once.
            s, h, _ = c.req("GET", f"/authorize?{q}")
        loc = h.get("location", "")
        code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("code", [None])[0]
        if not code:
            errors.append(f"no code: {s} {loc[:80]}")
            continue
        s, _, body = c.req("POST", "/token", {"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": "https://rp.example/cb",
                                              "code_verifier": verifier}, basic(cid, secret))
        token = json.loads(body).get("refresh_token")
        for _ in range(refreshes):
            s, _, body = c.req("POST", "/token", {"grant_type": "refresh_token", "refresh_token": token},
                               basic(cid, secret))
            if s != 200:
                errors.append(s)
                break
            token = json.loads(body)["refresh_token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--tokens", type=int, default=100000)
    ap.add_argument("--flows", type=int, default=5000)
    ap.add_argument("--refreshes", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--login-every", type=int, default=10)
    ap.add_argument("--sample", type=float, default=10)
    a = ap.parse_args()
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    e = env(a.url, port)
    cli(e, "migrate")
    cc = json.loads(cli(e, "clients", "create", "--name", "soak-cc", "--grant-type",
                        "client_credentials", "--scope", "soak", "--json"))
    web = json.loads(cli(e, "clients", "create", "--name", "soak-web", "--redirect-uri",
                         "https://rp.example/cb", "--skip-consent", "--json"))
    # One person per worker: one account's sign-ins in parallel would trip its throttle,
    # which counts each attempt before the password is checked.
    for w in range(a.workers):
        cli(e, "users", "add", f"soak{w}", "--password-stdin", stdin="soak password 1\n")
    server = subprocess.Popen([BIN, "serve"], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    errors, threads = [], []
    per = a.tokens // a.workers
    for _ in range(a.workers):
        threads.append(threading.Thread(target=cc_worker, args=(port, cc["client_id"], cc["client_secret"], per, errors)))
    flows = max(1, a.flows // a.workers)
    for w in range(a.workers):
        threads.append(threading.Thread(target=flow_worker, args=(
            port, web["client_id"], web["client_secret"], flows, a.refreshes, a.login_every,
            f"soak{w}", errors)))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    print("seconds " + " ".join(TABLES))
    while any(t.is_alive() for t in threads):
        time.sleep(a.sample)
        cli(e, "cleanup")
        c = counts(a.url)
        print(f"{time.monotonic() - t0:7.0f} " + " ".join(str(c[t]) for t in TABLES), flush=True)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    server.terminate(); server.wait()
    print(f"{per * a.workers} client-credentials tokens and {flows * a.workers} code flows "
          f"({a.refreshes} refreshes each) in {elapsed:.0f} s; {len(errors)} errors")
    for kind, n in collections.Counter(map(str, errors)).most_common(5):
        print(f"  {n:8} × {kind}")


if __name__ == "__main__":
    main()
