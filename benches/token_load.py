#!/usr/bin/env python3
"""The token path over HTTP: server CPU per request, beside the bare signature.

usage: benches/token_load.py DATABASE_URL [--seconds N] [--connections N]
                             [--server-core N] [--load-core N] [--compare OTHER_BINARY]
                             [--no-bare]

Starts target/release/gatehouse serve (GATEHOUSE_BIN picks another) on DATABASE_URL
(created and migrated; any existing data is left alone) pinned to one core, and drives it
with wrk pinned to another. For each case it reads the server's CPU time (user + system,
from /proc) before and after a run of wrk and divides by the requests wrk completed: the
server's CPU per request, which does not depend on how fast wrk or the other core is.

Cases: a client-credentials token signed with ES256, EdDSA and RS256 (client_secret_basic,
the cheap secret check), and introspection of one ES256 access token by its resource
server, repeated (the verification cache's case). Unless --no-bare, it then runs the
criterion benchmark's bare signature and verification of each algorithm (cargo bench
--bench issue_token) in the same session, so each HTTP figure stands beside the signature
it contains. With --compare, another binary serves a database of its own (DATABASE_URL
with ".1" or "_1" appended) on the same core, and each case runs on one, then the other:
the two figures of a case come from the same minute. Needs wrk and taskset (util-linux)."""
import argparse, base64, http.client, json, os, re, socket, subprocess, sys, tempfile, time
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("GATEHOUSE_BIN") or os.path.join(ROOT, "target", "release", "gatehouse")
SECRET = "load-benchmark-secret-0123456789abcdef0123"
TICK = os.sysconf("SC_CLK_TCK")

# Bodies from a file, one per line, in turn: each request introspects another token.
CYCLE = """local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local i = 0
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
"""
# More tokens than the verification cache holds, so every one is verified in full.
DISTINCT = 20000

LUA = """wrk.method = "POST"
wrk.body = "%s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
"""


def env(url, port):
    return {
        "PATH": os.environ.get("PATH", ""), "GATEHOUSE_DATABASE_URL": url,
        "GATEHOUSE_SECRET_KEY": SECRET, "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_ISSUER": f"http://127.0.0.1:{port}", **({"RUST_LOG": os.environ["RUST_LOG"]} if "RUST_LOG" in os.environ else {}),
    }


def cli(e, *args):
    out = subprocess.run([BIN, *args], env=e, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"gatehouse {' '.join(args)}: {out.stderr}")
    return out.stdout


def cpu_seconds(pid):
    """User + system CPU of every thread of the process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def basic(cid, secret):
    return base64.b64encode(f"{cid}:{secret}".encode()).decode()


def wrk(a, port, body, auth, path):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(CYCLE % (body, auth) if os.path.isfile(body) else LUA % (body, auth))
    out = subprocess.run(
        ["taskset", "-c", str(a.load_core), "wrk", "-t1", f"-c{a.connections}",
         f"-d{a.seconds}s", "-s", f.name, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True).stdout
    os.unlink(f.name)
    done = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        sys.exit(f"{bad.group(1)} requests failed:\n{out}")
    return done


def case(a, server, port, name, body, auth, path):
    wrk(a, port, body, auth, path)  # warm-up: caches, connections, the allocator
    before = cpu_seconds(server.pid)
    done = wrk(a, port, body, auth, path)
    per = (cpu_seconds(server.pid) - before) / done * 1e6
    print(f"{name:32} {per:8.1f} µs server CPU per request  ({done / a.seconds:8.0f} req/s)",
          flush=True)
    return per


def bare():
    """The criterion benchmark's bare signature and verification lines, in µs."""
    out = subprocess.run(
        ["cargo", "bench", "--bench", "issue_token", "--", "bare", "--warm-up-time", "1",
         "--measurement-time", "3"], cwd=ROOT, capture_output=True, text=True).stdout
    found = {}
    for m in re.finditer(r"(\S+/bare_\w+)\s+time:\s+\[\S+ \S+ (\S+) (\S+)", out):
        value, unit = float(m.group(2)), m.group(3)
        found[m.group(1)] = value * {"ns": 1e-3, "µs": 1, "us": 1, "ms": 1e3}[unit]
    return found


class Server:
    """One binary serving a database of its own, on the server core."""

    def __init__(self, a, binary, url):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]; s.close()
        e = env(url, self.port)
        global BIN
        saved, BIN = BIN, binary
        cli(e, "migrate")
        self.clients = {}
        for alg in ["ES256", "EdDSA", "RS256"]:
            self.clients[alg] = json.loads(cli(
                e, "clients", "create", "--name", f"load-{alg}", "--grant-type",
                "client_credentials", "--scope", "load", "--access-token-alg", alg,
                "--audience", "https://api.load.example", "--json"))
        self.rs = json.loads(cli(e, "clients", "create", "--name", "load-api", "--grant-type",
                                 "client_credentials", "--audience",
                                 "https://api.load.example", "--json"))
        BIN = saved
        self.proc = subprocess.Popen(["taskset", "-c", str(a.server_core), binary, "serve"],
                                     env=e, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        es = self.clients["ES256"]
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/token", data=b"grant_type=client_credentials",
            headers={"Authorization": "Basic " + basic(es["client_id"], es["client_secret"]),
                     "Content-Type": "application/x-www-form-urlencoded"})
        self.token = json.load(urllib.request.urlopen(req))["access_token"]
        # Distinct tokens for introspection at first sight, over one keep-alive connection.
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        self.bodies = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        for _ in range(DISTINCT):
            conn.request("POST", "/token", body="grant_type=client_credentials",
                         headers=dict(req.header_items()))
            token = json.loads(conn.getresponse().read())["access_token"]
            self.bodies.write(f"token={token}\n")
        self.bodies.close()

    def cases(self):
        for alg, c in self.clients.items():
            yield (alg, f"client_credentials {alg}", "grant_type=client_credentials",
                   basic(c["client_id"], c["client_secret"]), "/token")
        rs = basic(self.rs["client_id"], self.rs["client_secret"])
        yield ("introspect", "introspect ES256 (repeated)", f"token={self.token}", rs,
               "/introspect")
        yield ("introspect_new", "introspect ES256 (each new)", self.bodies.name, rs,
               "/introspect")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        os.unlink(self.bodies.name)


def database(url, n):
    """The n-th binary's database: the URL itself, or beside it for a second binary."""
    if n == 0:
        return url
    return url + f"_{n}" if url.startswith("postgres") else url + f".{n}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--server-core", type=int, default=0)
    ap.add_argument("--load-core", type=int, default=1)
    ap.add_argument("--compare", metavar="OTHER_BINARY",
                    help="measure this binary too, case by case beside the first")
    ap.add_argument("--no-bare", action="store_true")
    a = ap.parse_args()
    binaries = [BIN] + ([a.compare] if a.compare else [])
    servers = []
    try:
        for n, b in enumerate(binaries):
            servers.append(Server(a, b, database(a.url, n)))
        print(f"{a.url}: {a.connections} connections, {a.seconds} s per case")
        figures = [{} for _ in servers]
        for i, _ in enumerate(list(servers[0].cases())):
            for n, server in enumerate(servers):
                key, name, body, auth, path = list(server.cases())[i]
                label = f"{name} [{os.path.basename(binaries[n])}]" if a.compare else name
                figures[n][key] = case(a, server.proc, server.port, label, body, auth, path)
    finally:
        for server in servers:
            server.stop()
    if a.compare:
        print()
        for key in figures[0]:
            print(f"{key:12} {figures[0][key]:8.1f} µs vs {figures[1][key]:8.1f} µs: "
                  f"{figures[0][key] / figures[1][key]:.2f} ×")
    if a.no_bare:
        return
    b = bare()
    print()
    for n, fig in enumerate(figures):
        if a.compare:
            print(os.path.basename(binaries[n]))
        for alg in ["ES256", "EdDSA", "RS256"]:
            sig = b.get(f"client_credentials/{alg}/bare_signature")
            if sig:
                print(f"client_credentials {alg}: {fig[alg]:.1f} µs, bare signature "
                      f"{sig:.1f} µs, the rest {fig[alg] - sig:.1f} µs "
                      f"({sig / fig[alg]:.0%} is the signature)")
        ver = b.get("introspect/ES256/bare_verification")
        if ver:
            for key, name in [("introspect_new", "each token new"), ("introspect", "repeated")]:
                print(f"introspect ES256 ({name}): {fig[key]:.1f} µs, "
                      f"{fig[key] / ver:.2f} × a bare ES256 verification ({ver:.1f} µs)")
            print(f"a repeated token costs {fig['introspect'] / fig['introspect_new']:.2f} × "
                  "a new one")


if __name__ == "__main__":
    main()
