#!/usr/bin/env python3
"""Interleaved A/B of N parallel `run` loops (#17; tests/bench/README.md).

usage: hack/bench-ab.py ROUNDS N OPS BUNDLE VARIANT...

VARIANT is NAME=BINARY[:POLICY[:CONFIG[:K=V,K=V...]]]: the runtime binary,
the policy file it gets as HARDENED_POLICY (empty: none, e.g. for runc),
the config.json its bundles start from (empty: BUNDLE/config.json) and
more environment. The first variant is the reference of the ratios.

BUNDLE holds rootfs/ and config.json. Each variant gets N copies of it
under $AB_DIR (default /var/tmp/hardened-ab; not /tmp, which tests clean),
made once and reused (config.json is put back before every round: the
default policy rewrites it; with AB_FRESH_CONFIG=1 before every run, as
an engine writes a fresh one per container, outside the timing; with
AB_CGROUPS_PATH=/prefix also with linux.cgroupsPath /prefix/<id>, absolute
as Docker and containerd give it), and the
state root /dev/shm/ab-NAME. Each
round runs OPS containers per variant through N loops, the variants in
an order rotated every round, and prints containers/s, the median
latency and the CPU per container (user + system of every process the
runs started, from RUSAGE_CHILDREN: `run` reaps the container's init).
Quote ratios of one run only: the machine is shared.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time


def parse_variant(arg, bundle):
    name, rest = arg.split("=", 1)
    parts = rest.split(":")
    env = {}
    if len(parts) > 3 and parts[3]:
        env = dict(kv.split("=", 1) for kv in parts[3].split(","))
    return {
        "name": name,
        "bin": parts[0],
        "policy": parts[1] if len(parts) > 1 else "",
        "config": parts[2] if len(parts) > 2 and parts[2] else os.path.join(bundle, "config.json"),
        "env": env,
    }


def make_bundles(v, bundle, n, base):
    dirs = []
    for w in range(n):
        d = os.path.join(base, v["name"], str(w))
        if not os.path.isdir(os.path.join(d, "rootfs")):
            os.makedirs(d, exist_ok=True)
            shutil.copytree(os.path.join(bundle, "rootfs"), os.path.join(d, "rootfs"), symlinks=True)
        dirs.append(d)
    # The mapped root of a user namespace must reach each rootfs.
    for d in [base, os.path.join(base, v["name"])] + dirs:
        os.chmod(d, 0o755)
    return dirs


def one_round(v, dirs, ops, tag):
    for d in dirs:
        shutil.copy(v["config"], os.path.join(d, "config.json"))
    env = dict(os.environ)
    if v["policy"]:
        env["HARDENED_POLICY"] = v["policy"]
    env.update(v["env"])
    root = "/dev/shm/ab-" + v["name"]
    lat, errs, lock, nxt = [], [], threading.Lock(), [0]
    fresh = os.environ.get("AB_FRESH_CONFIG") == "1"
    cgprefix = os.environ.get("AB_CGROUPS_PATH", "")
    with open(v["config"]) as f:
        base_config = f.read()

    def loop(w):
        while True:
            with lock:
                k = nxt[0]
                nxt[0] += 1
            if k >= ops:
                return
            if cgprefix:
                s = json.loads(base_config)
                s.setdefault("linux", {})["cgroupsPath"] = f"{cgprefix}/{tag}-{k}"
                with open(os.path.join(dirs[w], "config.json"), "w") as f:
                    json.dump(s, f)
            elif fresh:
                shutil.copy(v["config"], os.path.join(dirs[w], "config.json"))
            t = time.perf_counter()
            p = subprocess.run([v["bin"], "--root", root, "run", "--bundle", dirs[w], f"{tag}-{k}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                if p.returncode != 0:
                    errs.append(p.stderr.decode(errors="replace")[-300:])

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(w,)) for w in range(len(dirs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if errs:
        sys.exit(f"{v['name']}: {len(errs)} of {ops} failed, first: {errs[0]}")
    cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / ops
    return ops / wall, statistics.median(lat), cpu


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    rounds, n, ops, bundle = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    variants = [parse_variant(a, bundle) for a in sys.argv[5:]]
    base = os.environ.get("AB_DIR", "/var/tmp/hardened-ab")
    dirs = {v["name"]: make_bundles(v, bundle, n, base) for v in variants}
    rate = {v["name"]: [] for v in variants}
    cpu = {v["name"]: [] for v in variants}
    print(f"N={n}, {ops} containers per variant per round, {rounds} rounds; load {load()}", flush=True)
    for r in range(rounds):
        k = r % len(variants)
        line = []
        for v in variants[k:] + variants[:k]:
            l0 = load()
            # IDs unique across variants: the cgroup path is /<id>
            # whatever the root.
            ops_s, p50, c = one_round(v, dirs[v["name"]], ops, f"{v['name']}-r{r}")
            rate[v["name"]].append(ops_s)
            cpu[v["name"]].append(c)
            line.append(f"{v['name']} {ops_s:.1f}/s p50 {p50 * 1000:.0f} ms cpu {c * 1000:.1f} ms (load {l0.split()[0]})")
        print(f"round {r}: " + "; ".join(line), flush=True)
    ref = variants[0]["name"]
    print(f"means, ratios to {ref}; load now {load()}")
    for v in variants:
        name = v["name"]
        m, c = statistics.mean(rate[name]), statistics.mean(cpu[name])
        print(f"  {name:16s} {m:6.1f}/s {m / statistics.mean(rate[ref]):5.2f}   cpu {c * 1000:5.1f} ms {c / statistics.mean(cpu[ref]):5.2f}")


if __name__ == "__main__":
    main()
