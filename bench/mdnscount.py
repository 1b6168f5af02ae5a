#!/usr/bin/env python3
"""mdnscount OUTFILE IFACE... -- count the mDNS frames on a host's interfaces.

Run inside a lab host (the reflector router).  One AF_PACKET socket per
interface sees every frame sent and received there; frames to or from UDP
port 5353 (IPv4 or IPv6) are counted per interface and direction, with
their full link-layer length (Ethernet header included, as the kernel's
interface counters count them).  After each counted frame the cumulative
counters are written to OUTFILE as JSON (atomically, through a rename):

  {"eth0": {"out_bytes": N, "out_pkts": N, "in_bytes": N, "in_pkts": N,
            "out_bytes_v4": N, "out_bytes_v6": N}, ...}

"out" is what this host sent on that interface: on a reflector, the mDNS
it re-sent from the other LANs (plus its own, which is nothing while it
publishes no service).  Runs until killed.
"""
import json
import os
import select
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MDNS = 5353


def udp_ports(frame):
    """(sport, dport, family) of a UDP frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800 and len(frame) >= 14 + 20:
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 17 or len(frame) < 14 + ihl + 4:
            return None
        sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
        return sport, dport, "v4"
    if ethertype == 0x86DD and len(frame) >= 14 + 40 + 4:
        if frame[14 + 6] != 17:  # no extension headers in mDNS
            return None
        sport, dport = struct.unpack_from("!HH", frame, 14 + 40)
        return sport, dport, "v6"
    return None


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: mdnscount OUTFILE IFACE...\n")
        return 2
    out, ifaces = sys.argv[1], sys.argv[2:]
    counts = {}
    socks = {}
    for name in ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((name, 0))
        socks[s.fileno()] = (s, name)
        counts[name] = {"out_bytes": 0, "out_pkts": 0, "in_bytes": 0,
                        "in_pkts": 0, "out_bytes_v4": 0, "out_bytes_v6": 0}

    def dump():
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(counts, f)
        os.replace(tmp, out)

    dump()
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    while True:
        changed = False
        for fd, _ in poller.poll():
            s, name = socks[fd]
            while True:
                try:
                    frame, addr = s.recvfrom(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                p = udp_ports(frame)
                if p is None or MDNS not in (p[0], p[1]):
                    continue
                c = counts[name]
                if addr[2] == PACKET_OUTGOING:
                    c["out_bytes"] += len(frame)
                    c["out_pkts"] += 1
                    c["out_bytes_" + p[2]] += len(frame)
                else:
                    c["in_bytes"] += len(frame)
                    c["in_pkts"] += 1
                changed = True
        if changed:
            dump()


if __name__ == "__main__":
    sys.exit(main())
