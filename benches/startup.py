#!/usr/bin/env python3
"""Time from process start to the first 200 from /readyz, on an existing database.

usage: benches/startup.py DATABASE_URL [RUNS]   (build first: cargo build --release;
GATEHOUSE_BIN picks another binary)
The database is prepared by a first, untimed start (migrations, keys)."""
import os, socket, subprocess, sys, time, urllib.request

BIN = os.environ.get("GATEHOUSE_BIN") or os.path.join(os.path.dirname(__file__), "..", "target", "release", "gatehouse")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(url):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEHOUSE_DATABASE_URL": url,
        "GATEHOUSE_SECRET_KEY": "startup-benchmark-secret-0123456789abcdef",
        "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_ISSUER": f"http://127.0.0.1:{port}",
    }
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    elapsed = time.monotonic() - t0
                    break
        except OSError:
            time.sleep(0.001)
    p.terminate()
    p.wait()
    return elapsed


def main():
    url = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    start(url)
    times = sorted(start(url) for _ in range(runs))
    print(f"{url}: median {times[len(times)//2]*1000:.1f} ms, min {times[0]*1000:.1f} ms, max {times[-1]*1000:.1f} ms over {runs} starts")


if __name__ == "__main__":
    main()
