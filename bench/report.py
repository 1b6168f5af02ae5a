#!/usr/bin/env python3
"""report RUNDIR OUTDIR -- turn a benchmark run's samples into the report.

RUNDIR holds samples.tsv (section, metric, subject, rep, value, unit) and
meta.tsv (key, value) written by bench/bench.sh.  Writes OUTDIR/RESULTS.md
(Markdown tables: median and min-max of every figure, ratio to its
baseline, target and verdict) and OUTDIR/RESULTS.json (the same figures,
every sample, and the verdicts), and a copy of both into RUNDIR.

The verdicts are reported, never asserted: the exit status is 0 whatever
the numbers.
"""
import csv
import json
import math
import os
import statistics
import sys


def load(rundir):
    samples = {}
    units = {}
    with open(os.path.join(rundir, "samples.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["section"], row["metric"], row["subject"])
            try:
                v = float(row["value"])
            except ValueError:
                v = float("nan")
            samples.setdefault(key, []).append(v)
            units[key] = row["unit"]
    meta = {}
    p = os.path.join(rundir, "meta.tsv")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                meta[k] = v
    return samples, units, meta


class Stat:
    def __init__(self, values, unit):
        self.all = values
        self.ok = [v for v in values if not math.isnan(v)]
        self.missed = len(values) - len(self.ok)
        self.unit = unit
        self.median = statistics.median(self.ok) if self.ok else None
        self.min = min(self.ok) if self.ok else None
        self.max = max(self.ok) if self.ok else None

    def fmt(self, digits=None, scale=1.0):
        if self.median is None:
            return "n/a"

        def f(x):
            x *= scale
            if digits is not None:
                return "%.*f" % (digits, x)
            if abs(x) >= 100:
                return "%.0f" % x
            if abs(x) >= 10:
                return "%.1f" % x
            return "%.2f" % x
        n = len(self.all)
        s = f(self.median)
        if n > 1:
            s += " (%s–%s)" % (f(self.min), f(self.max))
        if self.missed:
            s += " [%d of %d missed]" % (self.missed, n)
        return s

    def json(self):
        return {"median": self.median, "min": self.min, "max": self.max,
                "n": len(self.all), "missed": self.missed,
                "samples": [None if math.isnan(v) else v for v in self.all],
                "unit": self.unit}


def main():
    rundir, outdir = sys.argv[1], sys.argv[2]
    samples, units, meta = load(rundir)
    stats = {k: Stat(v, units[k]) for k, v in samples.items()}

    def st(section, metric, subject):
        return stats.get((section, metric, subject), Stat([], ""))

    def paired(section, metric, a, b):
        """rnsplice ÷ baseline repetition by repetition (the transports
        of one repetition run back to back, so slow drifts cancel)"""
        x = samples.get((section, metric, a), [])
        y = samples.get((section, metric, b), [])
        r = [u / v for u, v in zip(x, y)
             if not math.isnan(u) and not math.isnan(v) and v]
        return Stat(r, "ratio")

    targets = []

    def verdict(ok, noisy=False):
        if ok is None:
            return "n/a"
        v = "met" if ok else "**missed**"
        if noisy:
            v += " (within noise)"
        return v

    def t_diff(label, a, b, limit, unit="s"):
        """a <= b + limit (medians)"""
        ok = diff = None
        if a.median is not None and b.median is not None:
            diff = a.median - b.median
            ok = diff <= limit
        targets.append({
            "measure": label, "rnsplice": a.fmt(3 if unit == "s" else None),
            "baseline": b.fmt(3 if unit == "s" else None),
            "compare": ("%+.3f %s (×%.2f)" % (diff, unit, a.median / b.median)
                        if diff is not None and b.median else "n/a"),
            "target": "≤ baseline %+.2f %s" % (limit, unit),
            "verdict": verdict(ok), "ok": ok,
            "value": diff})

    def t_ratio(label, a, b, limit, higher_better=True, digits=None,
                pair=None):
        ok = ratio = None
        noisy = False
        if a.median is not None and b.median:
            ratio = a.median / b.median
            ok = ratio >= limit if higher_better else ratio <= limit
            # the repetitions disagree: some above the limit, some below
            if pair is not None and pair.median is not None:
                noisy = pair.min < limit <= pair.max
        cmp = "×%.2f" % ratio if ratio is not None else "n/a"
        if pair is not None and pair.median is not None:
            cmp += " (per repetition ×%.2f, ×%.2f–×%.2f)" % (
                pair.median, pair.min, pair.max)
        targets.append({
            "measure": label, "rnsplice": a.fmt(digits),
            "baseline": b.fmt(digits),
            "compare": cmp,
            "target": ("≥ %.2f×" if higher_better else "≤ %.2f×") % limit,
            "verdict": verdict(ok, noisy), "ok": ok, "noisy": noisy,
            "value": ratio})

    def t_abs(label, a, text, ok, baseline="—", digits=None):
        targets.append({
            "measure": label, "rnsplice": a.fmt(digits) if isinstance(a, Stat) else a,
            "baseline": baseline, "compare": "", "target": text,
            "verdict": verdict(ok), "ok": ok,
            "value": a.median if isinstance(a, Stat) else None})

    refl = "reflector"
    # discovery / withdrawal
    t_diff("discovery, LAN scope: publish on LAN A → resolved on LAN B "
           "(baseline: reflector)",
           st("disc", "discovery", "rnsplice"), st("disc", "discovery", refl),
           0.95)
    t_diff("discovery, host scope (resolved on the agent's host; baseline: "
           "reflector, on LAN B)",
           st("disc", "discovery", "rnsplice-host"),
           st("disc", "discovery", refl), 0.2)
    t_diff("withdrawal, LAN scope: publisher stops → gone on LAN B",
           st("disc", "withdrawal", "rnsplice"),
           st("disc", "withdrawal", refl), 1.05)
    t_diff("TXT changed in place on LAN A → the new record on LAN B "
           "(baseline: reflector)",
           st("txt", "change", "rnsplice"), st("txt", "change", refl), 0.2)
    cyc_r = st("disc", "cycle_bytes", "rnsplice")
    cyc_b = st("disc", "cycle_bytes", refl)
    secs = float(meta.get("cycle_len", "11"))
    t_ratio("bytes crossing per service up/down cycle, %g s window, all "
            "counted (rnsplice: all of wan0, keepalives included; "
            "reflector: its mDNS out of both legs), B" % secs,
            cyc_r, cyc_b, 0.5, higher_better=False)
    t_ratio("… the same cycle with every keepalive off (agent "
            "ping-interval 3600, subsystem keepalive 0): what the "
            "cycle itself costs, B", st("disc", "cycle_bytes", "rnsplice-noka"),
            cyc_b, 0.5, higher_better=False, digits=0)
    idle_b = st("idle", "wan_bytes_per_min", "rnsplice")
    t_abs("idle WAN traffic, B/min (all of it, IP headers included: the "
          "keepalive, the subsystem's BEATs and the agent's PINGs)", idle_b,
          "≤ 3000", None if idle_b.median is None else idle_b.median <= 3000,
          digits=0,
          baseline="reflector: " + st("idle", "wan_bytes_per_min", refl).fmt(0))
    dead = st("idle", "dead_link_withdrawn_s", "rnsplice")
    t_abs("a silently dead link (both ends blackholed): services gone from "
          "LAN B after, s", dead, "≤ 10",
          None if dead.median is None else dead.median <= 10, digits=2)
    idle = st("idle", "other_wakeups_per_min", "agent")
    t_abs("idle agent: wake-ups other than keepalives, per minute",
          idle, "0", None if idle.median is None else idle.median == 0)
    idle = st("idle", "other_wakeups_per_min", "subsystem")
    if idle.median is not None:
        t_abs("idle subsystem: wake-ups other than keepalives, per minute",
              idle, "0", idle.median == 0)
    # data plane
    for metric, label in (("iperf_up_MBps", "bulk, iperf3 LAN B → LAN A, MB/s"),
                          ("iperf_down_MBps", "bulk, iperf3 LAN A → LAN B, MB/s"),
                          ("http8m_MBps", "bulk, HTTP GET 8 MB, MB/s")):
        t_ratio(label + ", vs ssh -L same cipher (%s)" %
                meta.get("cipher_default", "default"),
                st("data", metric, "rnsplice-same"), st("data", metric, "ssh-L"),
                1.0, pair=paired("data", metric, "rnsplice-same", "ssh-L"))
        t_ratio(label + ", tuned (aes128-gcm) vs ssh -L aes128-gcm",
                st("data", metric, "rnsplice-tuned"),
                st("data", metric, "ssh-L-aes"), 1.0,
                pair=paired("data", metric, "rnsplice-tuned", "ssh-L-aes"))
        t_ratio(label + ", out of the box (%s) vs ssh -L default cipher" %
                meta.get("cipher_rnsplice", "?"),
                st("data", metric, "rnsplice"), st("data", metric, "ssh-L"),
                1.6, pair=paired("data", metric, "rnsplice", "ssh-L"))
    for metric, label in (
            ("ka_rate", "4 KB GETs on a kept-alive connection, req/s (vs ssh -L -tt)"),
            ("new1_rate", "new connection per 4 KB GET, 1 at a time, conn/s (vs ssh -L -tt)"),
            ("new8_rate", "new connection per 4 KB GET, 8 at a time, conn/s (vs ssh -L -tt)")):
        t_ratio(label, st("data", metric, "rnsplice"),
                st("data", metric, "ssh-L-tt"), 1.0,
                pair=paired("data", metric, "rnsplice", "ssh-L-tt"))
    # p50 no worse; CPU per new connection on the agent's host (agent +
    # its master against ssh -L -tt) at most ×1.2
    for metric, label, limit, digits in (
            ("new1_p50_ms", "… p50 latency, 1 at a time, ms (vs ssh -L -tt)", 1.0, 2),
            ("new8_p50_ms", "… p50 latency, 8 at a time, ms (vs ssh -L -tt)", 1.0, 2),
            ("new1_cpu_us_brelay", "… CPU on the agent's host per new "
             "connection, 1 at a time, µs (vs ssh -L -tt)", 1.2, 0),
            ("new8_cpu_us_brelay", "… CPU on the agent's host per new "
             "connection, 8 at a time, µs (vs ssh -L -tt)", 1.2, 0)):
        t_ratio(label, st("data", metric, "rnsplice"),
                st("data", metric, "ssh-L-tt"), limit, higher_better=False,
                digits=digits,
                pair=paired("data", metric, "rnsplice", "ssh-L-tt"))
    # the same targets with the master's own listener (listener master)
    for metric, label, limit, hb in (
            ("new1_rate", "new connection per 4 KB GET, 1 at a time, "
             "listener master, conn/s (vs ssh -L -tt)", 1.0, True),
            ("new8_rate", "new connection per 4 KB GET, 8 at a time, "
             "listener master, conn/s (vs ssh -L -tt)", 1.0, True),
            ("new1_p50_ms", "… p50 latency, 1 at a time, listener master, "
             "ms (vs ssh -L -tt)", 1.0, False),
            ("new1_cpu_us_brelay", "… CPU on the agent's host per new "
             "connection, 1 at a time, listener master, µs (vs ssh -L -tt)",
             1.2, False),
            ("new8_cpu_us_brelay", "… CPU on the agent's host per new "
             "connection, 8 at a time, listener master, µs (vs ssh -L -tt)",
             1.2, False)):
        if st("data", metric, "rnsplice-master").median is None:
            continue
        t_ratio(label, st("data", metric, "rnsplice-master"),
                st("data", metric, "ssh-L-tt"), limit, higher_better=hb,
                pair=paired("data", metric, "rnsplice-master", "ssh-L-tt"))
    for metric, label in (
            ("new1_ctxt_brelay", "… context switches on the agent's host "
             "per new connection, 1 at a time (vs ssh -L -tt)"),
            ("new8_ctxt_brelay", "… context switches on the agent's host "
             "per new connection, 8 at a time (vs ssh -L -tt)")):
        a, b = st("data", metric, "rnsplice"), st("data", metric, "ssh-L-tt")
        targets.append({
            "measure": label, "rnsplice": a.fmt(1), "baseline": b.fmt(1),
            "compare": "×%.2f" % (a.median / b.median)
            if a.median is not None and b.median else "n/a",
            "target": "reported", "verdict": "n/a", "ok": None,
            "value": a.median})
    # scale / concurrency
    seen = st("scale", "seen_on_lan_b", "rnsplice")
    t_abs("scale: 1,000 services on LAN A → published on LAN B", seen,
          "all 1,000", None if seen.min is None else seen.min >= 1000)
    sync = st("scale", "full_sync", "rnsplice")
    rsync = st("scale", "full_sync", refl)
    # a repetition that never saw all 1,000 (nan) misses the target
    sync_ok = (False if sync.missed else
               None if sync.max is None else sync.max <= 10)
    targets.append({
        "measure": "scale: agent start → all 1,000 on LAN B, s (baseline: "
                   "reflector start → all 1,000 on LAN RB)",
        "rnsplice": sync.fmt(2), "baseline": rsync.fmt(2),
        "compare": ("×%.2f" % (sync.median / rsync.median)
                    if sync.median is not None and rsync.median else "n/a"),
        "target": "≤ 10 s",
        "verdict": verdict(sync_ok), "ok": sync_ok,
        "value": sync.median})
    rss = st("scale", "agent_pub_rss_MB", "rnsplice")
    t_abs("scale: agent RSS with 1,000 services (the agent's RSS + its publisher process's private memory), MB", rss, "≤ 16 MB",
          None if rss.max is None else rss.max <= 16)
    mrd = meta.get("max_relays_default", "?")
    for subj, label in (("rnsplice", "out of the box (max-relays %s)" % mrd),
                        ("rnsplice-tuned", "max-relays 8000")):
        failed = st("conc", "failed", subj)
        t_abs("2,000 concurrent relayed connections, %s: failures" % label,
              failed, "0", None if failed.max is None else failed.max == 0,
              baseline="ssh -L: " + st("conc", "failed", "ssh-L").fmt())

    # export (client on asrv, server on bcli) against import (client on
    # bcli, server on asrv): the same agent and session, goal ×0.9
    for metric, label in (
            ("iperf_up_MBps", "bulk, iperf3 client → server, MB/s"),
            ("iperf_down_MBps", "bulk, iperf3 server → client, MB/s"),
            ("http8m_MBps", "bulk, HTTP GET 8 MB, MB/s"),
            ("ka_rate", "4 KB GETs on a kept-alive connection, req/s"),
            ("new1_rate", "new connection per 4 KB GET, 1 at a time, conn/s"),
            ("new8_rate", "new connection per 4 KB GET, 8 at a time, conn/s")):
        t_ratio("export: " + label + " (vs import, same agent and session)",
                st("data", metric, "export"), st("data", metric, "import"),
                0.9, pair=paired("data", metric, "export", "import"))
    t_ratio("export: discovery, publish on LAN B → resolved on LAN A, s "
            "(vs import: LAN A → LAN B)", st("export", "disc_s", "export"),
            st("export", "disc_s", "import"), 1 / 0.9, higher_better=False,
            digits=3)

    # ---- Markdown
    L = []
    w = L.append
    w("# rnsplice benchmark results")
    w("")
    w("Written by `make bench` (bench/bench.sh, bench/report.py); "
      "see bench/README.md for what each number means and how the "
      "baselines are set up.")
    w("")
    for k, label in (("date", "Date"), ("machine", "Machine"),
                     ("aes_ni", "AES-NI"), ("openssh", "OpenSSH"),
                     ("avahi", "Avahi"), ("iperf3", "iperf3"),
                     ("commit", "rnsplice commit"), ("mode", "Mode"),
                     ("cipher_default", "Cipher ssh negotiates out of the "
                      "box"),
                     ("cipher_rnsplice", "Cipher rnsplice's master asks "
                      "for first out of the box")):
        if k in meta:
            w("- %s: %s" % (label, meta[k]))
    w("")
    w("Every cell: median (min–max) over the repetitions of this run; "
      "ratios are of medians, rnsplice ÷ baseline; every baseline was "
      "measured in this same run, in the same lab. \"Within noise\": the "
      "ratio taken repetition by repetition (the transports of one "
      "repetition run back to back) falls on both sides of the target.")
    w("")
    w("## Targets")
    w("")
    w("| measure | rnsplice | baseline | rnsplice vs baseline | target | |")
    w("|---|---|---|---|---|---|")
    for t in targets:
        w("| %s | %s | %s | %s | %s | %s |" % (
            t["measure"], t["rnsplice"], t["baseline"], t["compare"],
            t["target"], t["verdict"]))
    w("")

    # discovery table
    w("## Discovery, withdrawal, bytes per cycle")
    w("")
    cols = [("reflector", "reflector (rtr, enable-reflector=yes)"),
            ("rnsplice", "rnsplice, scope lan"),
            ("rnsplice-host", "rnsplice, scope host"),
            ("rnsplice-noka", "rnsplice, scope lan, keepalives off")]
    w("| | " + " | ".join(c[1] for c in cols) + " |")
    w("|---|" + "---|" * len(cols))
    for metric, label, d in (("discovery", "publish → resolved, s", 3),
                             ("disc_1_lan_a", "… LAN A: publish → resolved on arelay, s", 3),
                             ("disc_2_to_agent", "… → subsystem → ssh → agent (its log), s", 3),
                             ("disc_3_probe", "… agent: avahi probing → established, s", 3),
                             ("disc_4_lan_b", "… established → resolved by the browser, s", 3),
                             ("withdrawal", "unpublish → removed, s", 3),
                             ("wd_1_lan_a", "… LAN A: unpublish → removed on arelay, s", 3),
                             ("wd_2_to_agent", "… → subsystem → ssh → agent withdraws, s", 3),
                             ("wd_3_lan_b", "… agent withdraws → removed at the browser, s", 3),
                             ("cycle_bytes", "bytes crossing per %s s cycle"
                              % meta.get("cycle_len", "12"), 0),
                             ("cycle_pkts", "packets crossing per cycle", 0),
                             ("cycle_bytes_v4", "… of which IPv4 mDNS, B", 0),
                             ("cycle_bytes_v6", "… of which IPv6 mDNS, B", 0)):
        row = [st("disc", metric, c[0]) for c in cols]
        if all(r.median is None for r in row):
            continue
        w("| %s | %s |" % (label, " | ".join(
            r.fmt(d) if r.median is not None else "—" for r in row)))
    w("")
    w("")
    if any(st("txt", "change", c).median is not None
           for c in ("rnsplice", refl)):
        w("## A TXT record changed in place")
        w("")
        w("| | reflector | rnsplice, scope lan |")
        w("|---|---|---|")
        for metric, label in (
                ("change", "TXT updated on LAN A → the new record in LAN "
                 "B's cache (a record browser there), s"),
                ("txt_1_lan_a", "… LAN A: → in arelay's cache, s"),
                ("txt_2_to_lan_b", "… → subsystem → ssh → agent → "
                 "LAN B, s")):
            row = [st("txt", metric, c) for c in (refl, "rnsplice")]
            if all(r.median is None for r in row):
                continue
            w("| %s | %s |" % (label, " | ".join(
                r.fmt(3) if r.median is not None else "—" for r in row)))
        w("")
    w("## Idle (nothing published or withdrawn)")
    w("")
    w("| | value |")
    w("|---|---|")
    for metric, subj, label in (
            ("wan_bytes_per_min", "rnsplice", "rnsplice: bytes/min on the WAN (all of wan0)"),
            ("wan_pkts_per_min", "rnsplice", "rnsplice: packets/min on the WAN"),
            ("wan_bytes_per_min", "reflector", "reflector: mDNS bytes/min out of rtr"),
            ("wan_pkts_per_min", "reflector", "reflector: mDNS packets/min out of rtr"),
            ("ctxt_per_min", "agent", "rnsplice-agent: context switches/min"),
            ("ctxt_per_min", "ssh-master", "its ssh master: context switches/min"),
            ("ctxt_per_min", "subsystem", "rnsplice-subsystem: context switches/min"),
            ("wakeups_per_min", "agent", "rnsplice-agent: wake-ups/min (strace)"),
            ("keepalive_wakeups_per_min", "agent", "… of which keepalives (PING/PONG/BEAT)"),
            ("other_wakeups_per_min", "agent", "… of which anything else"),
            ("wakeups_per_min", "subsystem", "rnsplice-subsystem: wake-ups/min (strace)"),
            ("keepalive_wakeups_per_min", "subsystem", "… of which keepalives (PING/PONG/BEAT)"),
            ("other_wakeups_per_min", "subsystem", "… of which anything else")):
        s = st("idle", metric, subj)
        if s.median is not None:
            w("| %s | %s |" % (label, s.fmt(1)))
    w("")

    # data plane table
    tps = [("routed", "routed (no ssh)"), ("ssh-L", "ssh -L"),
           ("ssh-L-aes", "ssh -L aes128-gcm"), ("ssh-L-tt", "ssh -L -tt"),
           ("rnsplice", "rnsplice"),
           ("rnsplice-same", "rnsplice, ssh's default cipher"),
           ("rnsplice-tuned", "rnsplice tuned (aes128-gcm)"),
           ("rnsplice-master", "rnsplice, listener master")]
    w("## Data plane (client on bcli, server on asrv, across the WAN)")
    w("")
    w("| | " + " | ".join(t[1] for t in tps) + " |")
    w("|---|" + "---|" * len(tps))
    for metric, label in (
            ("iperf_up_MBps", "iperf3 LAN B → A, MB/s"),
            ("iperf_down_MBps", "iperf3 LAN A → B, MB/s"),
            ("http8m_MBps", "HTTP 8 MB GETs, MB/s"),
            ("ka_rate", "4 KB GETs, kept-alive connection, req/s"),
            ("ka_p50_ms", "… p50 latency, ms"),
            ("ka_p99_ms", "… p99 latency, ms"),
            ("new1_rate", "new connection per 4 KB GET, 1 at a time, conn/s"),
            ("new1_p50_ms", "… p50 latency, ms"),
            ("new1_p99_ms", "… p99 latency, ms"),
            ("new8_rate", "new connection per 4 KB GET, 8 at a time, conn/s"),
            ("new8_p50_ms", "… p50 latency, ms"),
            ("new8_p99_ms", "… p99 latency, ms"),
            ("ka_cpu_us_brelay", "CPU on brelay per kept-alive request, µs"),
            ("ka_cpu_us_arelay", "CPU on arelay per kept-alive request, µs"),
            ("new1_cpu_us_brelay", "CPU on brelay per new connection (1 at a time), µs"),
            ("new1_cpu_us_arelay", "CPU on arelay per new connection (1 at a time), µs"),
            ("new8_cpu_us_brelay", "CPU on brelay per new connection (8 at a time), µs"),
            ("new8_cpu_us_arelay", "CPU on arelay per new connection (8 at a time), µs"),
            ("ka_ctxt_brelay", "context switches on brelay per kept-alive request", ),
            ("new1_ctxt_brelay", "context switches on brelay per new connection (1 at a time)", ),
            ("new8_ctxt_brelay", "context switches on brelay per new connection (8 at a time)", ),
            ("new1_cpu_us_agent", "… of which the agent process, µs (1 at a time)"),
            ("new8_cpu_us_agent", "… of which the agent process, µs (8 at a time)"),
            ("new1_errors", "errors (1 at a time)"),
            ("new8_errors", "errors (8 at a time)")):
        row = [st("data", metric, t[0]) for t in tps]
        if all(r.median is None for r in row):
            continue
        d = 2 if metric.endswith("_ms") else (
            0 if "errors" in metric or "cpu" in metric else (
                1 if "ctxt" in metric else None))
        w("| %s | %s |" % (label, " | ".join(r.fmt(d) for r in row)))
    # ratios to ssh -L -tt and ssh -L
    w("")
    w("Ratios of medians (rnsplice ÷ baseline), and in brackets the range "
      "of the ratio taken repetition by repetition:")
    w("")
    w("| | rnsplice ÷ ssh -L | rnsplice ÷ ssh -L -tt | tuned ÷ ssh -L aes128-gcm | rnsplice ÷ routed |")
    w("|---|---|---|---|---|")
    for metric, label in (("iperf_up_MBps", "iperf3 B → A"),
                          ("iperf_down_MBps", "iperf3 A → B"),
                          ("http8m_MBps", "HTTP 8 MB"),
                          ("ka_rate", "kept-alive req/s"),
                          ("new1_rate", "new conn/s, 1 at a time"),
                          ("new8_rate", "new conn/s, 8 at a time")):
        def r(a, b):
            x, y = st("data", metric, a), st("data", metric, b)
            if x.median is None or not y.median:
                return "n/a"
            p = paired("data", metric, a, b)
            return "×%.2f [×%.2f–×%.2f]" % (x.median / y.median, p.min, p.max)
        w("| %s | %s | %s | %s | %s |" % (
            label, r("rnsplice", "ssh-L"), r("rnsplice", "ssh-L-tt"),
            r("rnsplice-tuned", "ssh-L-aes"), r("rnsplice", "routed")))
    w("")

    if any(k[2] == "rnsplice-base" for k in samples):
        w("Before and after (`BENCH_BASE_AGENT`: another agent binary, "
          "measured as rnsplice-base in the same run, the transports of "
          "each repetition back to back):")
        w("")
        w("| | rnsplice-base (before) | rnsplice (after) | after ÷ before [per repetition] |")
        w("|---|---|---|---|")
        for metric in sorted({k[1] for k in samples
                              if k[0] == "data" and k[2] == "rnsplice-base"}):
            a = st("data", metric, "rnsplice")
            b = st("data", metric, "rnsplice-base")
            if a.median is None or b.median is None:
                continue
            p = paired("data", metric, "rnsplice", "rnsplice-base")
            cmp = "n/a"
            if b.median and p.median is not None:
                cmp = "×%.2f [×%.2f–×%.2f]" % (a.median / b.median, p.min,
                                               p.max)
            d = 2 if metric.endswith("_ms") else (
                1 if "ctxt" in metric else 0)
            w("| %s | %s | %s | %s |" % (metric, b.fmt(d), a.fmt(d), cmp))
        w("")

    w("## 2,000 concurrent connections (64 KiB each way, checksummed)")
    w("")
    w("| | verified | failed | open at the server at once | seconds |")
    w("|---|---|---|---|---|")
    for subj, label in (("ssh-L", "ssh -L"), ("rnsplice", "rnsplice (max-relays %s, the default)" % meta.get("max_relays_default", "?")),
                        ("rnsplice-tuned", "rnsplice, max-relays 8000")):
        if st("conc", "ok", subj).median is None:
            continue
        w("| %s | %s | %s | %s | %s |" % (
            label, st("conc", "ok", subj).fmt(0),
            st("conc", "failed", subj).fmt(0),
            st("conc", "server_established", subj).fmt(0),
            st("conc", "seconds", subj).fmt(2)))
    w("")
    w("## Scale: 1,000 services on LAN A")
    w("")
    w("| | rnsplice | reflector |")
    w("|---|---|---|")
    for metric, label, d in (
            ("seen_on_lan_b", "distinct services seen on LAN B (bcli)", 0),
            ("established", "established by the agent (rnsplice services)", 0),
            ("full_sync", "agent (reflector) start → the last one seen on LAN B (RB), s", 2),
            ("t_synced_msg", "… agent start → first SYNCED from the subsystem, s", 2),
            ("t_last_add", "… agent start → last service received (agent log), s", 2),
            ("t_last_established", "… agent start → last publication established (agent log), s", 2),
            ("agent_cpu_s", "CPU of the agent from its start to the sync, s", 2),
            ("avahi_cpu_s_brelay", "CPU of brelay's avahi-daemon during the sync, s", 2),
            ("avahi_cpu_s_bcli", "CPU of bcli's avahi-daemon during the sync, s", 2),
            ("avahi_cpu_s_arelay", "CPU of arelay's avahi-daemon during the sync, s", 2),
            ("avahi_cpu_s_asrv", "CPU of asrv's avahi-daemon (LAN A's 1,000) during the sync, s", 2),
            ("avahi_cpu_s_rtr", "CPU of rtr's avahi-daemon (the reflector) from its start to the sync, s", 2),
            ("avahi_cpu_s_services", "CPU of the services' host's avahi-daemon (asrv; rsrv) during the sync, s", 2),
            ("avahi_cpu_s_client", "CPU of the far LAN's client's avahi-daemon (bcli; rcli) during the sync, s", 2),
            ("udp_in_client", "… datagrams the client received (bcli; rcli)", 0),
            ("udp_out_services", "datagrams the services' host sent (asrv; rsrv)", 0),
            ("udp_in_services", "datagrams the services' host received (asrv; rsrv)", 0),
            ("udp_out_brelay", "datagrams brelay sent (the agent's publications)", 0),
            ("udp_out_arelay", "datagrams arelay sent (the subsystem's browsing)", 0),
            ("withdraw_all", "agent stopped (SIGTERM) → all 1,000 gone from LAN B, s", 2),
            ("left_on_lan_b", "… still listed on LAN B %s s after the agent stopped"
             % meta.get("scale_wait", "30"), 0),
            ("lan_b_udp_rcvbuf_errors", "… datagrams bcli dropped meanwhile (UDP receive buffer full)", 0),
            ("agent_rss_MB", "agent RSS after sync, MB", 2),
            ("agent_peak_rss_MB", "agent peak RSS (VmHWM), MB", 2),
            ("publisher_rss_MB", "its publisher process's RSS, MB", 2),
            ("publisher_private_MB", "… of which its own (private: not shared with the agent), MB", 2),
            ("agent_pub_rss_MB", "the agent's RSS + the publisher's private memory, MB", 2),
            ("ssh_master_rss_MB", "its ssh master's RSS, MB", 2)):
        s = st("scale", metric, "rnsplice")
        b = st("scale", metric, refl)
        if s.median is not None or s.all or b.median is not None or b.all:
            w("| %s | %s | %s |" % (label,
                                    s.fmt(d) if s.median is not None or s.all else "—",
                                    b.fmt(d) if b.median is not None or b.all else "—"))
    w("")
    md = "\n".join(L) + "\n"

    js = {
        "meta": meta,
        "targets": targets,
        "figures": {"/".join(k): v.json() for k, v in sorted(stats.items())},
    }
    for d in (outdir, rundir):
        with open(os.path.join(d, "RESULTS.md"), "w") as f:
            f.write(md)
        with open(os.path.join(d, "RESULTS.json"), "w") as f:
            json.dump(js, f, indent=1, ensure_ascii=False)
            f.write("\n")
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
