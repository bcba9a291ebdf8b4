#!/usr/bin/env python3
"""kube_load.py — the load side of bench/bench_operator.sh.

  kube_load.py run     submit N objects of one kind at once and wait until all
                       of them report status.phase Succeeded (a watch, not a
                       poll, so waiting adds one long request to the apiserver)
  kube_load.py metrics fetch the apiserver's /metrics and print
                       apiserver_request_total summed by verb and resource

Talks to the apiserver directly (TLS client certificate from kube-env.sh's
pki), with no client-side rate limit: the benchmark measures the controllers,
not this script. Standard library only.
"""
import argparse
import http.client
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse


def connect(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    u = urllib.parse.urlsplit(args.server)
    return lambda timeout=60: http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)


def request(conn, method, path, body=None):
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def collection(args):
    base = "/api/v1" if args.group in ("", "core") else f"/apis/{args.group}"
    return f"{base}/{args.version}/namespaces/{args.namespace}/{args.resource}"


class Tracker:
    """Phases by object name, fed by the watch; wakes the main thread."""

    def __init__(self, n, failed_phases):
        self.n = n
        self.failed_phases = failed_phases
        self.phase = {}
        self.done_at = {}
        self.failed = {}
        self.cv = threading.Condition()
        self.error = None

    def update(self, name, phase, message):
        with self.cv:
            self.phase[name] = phase
            if phase == "Succeeded" and name not in self.done_at:
                self.done_at[name] = time.time()
            elif phase in self.failed_phases and name not in self.failed:
                self.failed[name] = message or phase
            self.cv.notify_all()

    def fail(self, err):
        with self.cv:
            self.error = err
            self.cv.notify_all()


def relist(args, mk, tr):
    c = mk()
    try:
        st, body = request(c, "GET", collection(args))
    finally:
        c.close()
    if st != 200:
        raise OSError(f"list {collection(args)}: HTTP {st}")
    lst = json.loads(body)
    for obj in lst.get("items", []):
        status = obj.get("status") or {}
        tr.update(obj["metadata"]["name"], status.get("phase", ""), status.get("message", ""))
    return lst["metadata"]["resourceVersion"]


def watch(args, mk, rv, tr, stop):
    path = collection(args)
    while not stop.is_set():
        conn = mk(timeout=None)
        q = urllib.parse.urlencode({"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3600",
                                    "allowWatchBookmarks": "true"})
        try:
            conn.request("GET", f"{path}?{q}", headers={"Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status == 429:  # a new CRD's watch cache still initializing
                resp.read()
                time.sleep(0.5)
                continue
            if resp.status != 200:
                tr.fail(f"watch {path}: HTTP {resp.status}: {resp.read()[:300]!r}")
                return
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    break
                ev = json.loads(line)
                obj = ev.get("object", {})
                if ev.get("type") == "ERROR":
                    if obj.get("code") not in (410, 429):
                        tr.fail(f"watch {path}: {obj.get('message')}")
                        return
                    # 410 Gone: too far behind; list again and go on from there
                    rv = relist(args, mk, tr)
                    break
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    st = obj.get("status") or {}
                    tr.update(obj["metadata"]["name"], st.get("phase", ""), st.get("message", ""))
        except (OSError, http.client.HTTPException, ValueError) as e:
            if stop.is_set():
                return
            print(f"kube_load: watch interrupted ({e}); resuming", file=sys.stderr)
            time.sleep(0.2)
        finally:
            conn.close()


def cmd_run(args):
    mk = connect(args)
    with open(args.template) as f:
        template = f.read()
    path = collection(args)
    c = mk()
    st, body = request(c, "GET", f"{path}?limit=1")
    if st != 200:
        sys.exit(f"kube_load: list {path}: HTTP {st}: {body[:300]!r}")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    c.close()

    tr = Tracker(args.count, set(args.failed_phase))
    stop = threading.Event()
    wt = threading.Thread(target=watch, args=(args, mk, rv, tr, stop), daemon=True)
    wt.start()

    names = [f"{args.prefix}{i}" for i in range(args.count)]
    submitted = {}
    errors = []
    nxt = iter(range(args.count))
    lock = threading.Lock()

    def submitter():
        conn = mk()
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                break
            body = template.replace("@N@", str(i)).encode()
            t = time.time()
            try:
                st, out = request(conn, "POST", path, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = mk()
                st, out = request(conn, "POST", path, body)
            with lock:
                submitted[names[i]] = t
                if st != 201:
                    errors.append(f"{names[i]}: HTTP {st}: {out[:300]!r}")
        conn.close()

    t0 = time.time()
    threads = [threading.Thread(target=submitter) for _ in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_sub = time.time()
    if errors:
        stop.set()
        sys.exit(f"kube_load: {len(errors)} submissions failed, first: {errors[0]}")

    deadline = t0 + args.timeout
    last_report = t_sub
    with tr.cv:
        while len(tr.done_at) < args.count and not tr.failed and tr.error is None:
            left = deadline - time.time()
            if left <= 0:
                break
            tr.cv.wait(min(left, 1.0))
            if args.progress and time.time() - last_report >= args.progress:
                last_report = time.time()
                phases = {}
                for p in tr.phase.values():
                    phases[p or "-"] = phases.get(p or "-", 0) + 1
                print(f"kube_load: {time.time() - t0:7.1f}s  " +
                      " ".join(f"{k}={v}" for k, v in sorted(phases.items())), file=sys.stderr)
        done = dict(tr.done_at)
        failed = dict(tr.failed)
        err = tr.error
        phases = dict(tr.phase)
    stop.set()

    ok = len(done) == args.count
    t_end = max(done.values()) if ok else time.time()
    lat = sorted(done[n] - submitted[n] for n in done if n in submitted)

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    print(f"t0 {t0:.6f}")
    print(f"t_end {t_end:.6f}")
    print(f"submit_s {t_sub - t0:.3f}")
    print(f"wall_s {t_end - t0:.3f}")
    print(f"succeeded {len(done)}")
    print(f"latency_p50_s {pct(0.50):.3f}")
    print(f"latency_p99_s {pct(0.99):.3f}")
    if err:
        sys.exit(f"kube_load: {err}")
    if failed:
        n, m = next(iter(failed.items()))
        sys.exit(f"kube_load: {len(failed)} of {args.count} failed, e.g. {n}: {m}")
    if not ok:
        counts = {}
        for n in names:
            p = phases.get(n, "") or "(no status)"
            counts[p] = counts.get(p, 0) + 1
        sys.exit(f"kube_load: timed out after {args.timeout}s with {len(done)}/{args.count} Succeeded; "
                 f"phases: {counts}")


def cmd_metrics(args):
    c = connect(args)()
    st, body = request(c, "GET", "/metrics")
    if st != 200:
        sys.exit(f"kube_load: /metrics: HTTP {st}")
    sums = {}
    pat = re.compile(r'^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$')
    for line in body.decode().splitlines():
        m = pat.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        key = (labels.get("verb", ""), labels.get("resource", "") +
               ("/" + labels["subresource"] if labels.get("subresource") else ""))
        sums[key] = sums.get(key, 0) + float(m.group(2))
    for (verb, res), v in sorted(sums.items()):
        print(f"{verb} {res or '-'} {int(v)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--group", required=True)
    r.add_argument("--version", required=True)
    r.add_argument("--resource", required=True)
    r.add_argument("--namespace", required=True)
    r.add_argument("--template", required=True, help="JSON object; @N@ is replaced by the index")
    r.add_argument("--prefix", required=True, help="object names: PREFIX0 .. PREFIX(N-1)")
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--parallel", type=int, default=16)
    r.add_argument("--timeout", type=float, default=1800)
    r.add_argument("--progress", type=float, default=0, help="print phase counts every S seconds")
    r.add_argument("--failed-phase", action="append", default=[], help="a phase that means failure")
    sub.add_parser("metrics")
    args = ap.parse_args()
    {"run": cmd_run, "metrics": cmd_metrics}[args.cmd](args)


if __name__ == "__main__":
    main()
