#!/usr/bin/env python3
"""wancap IFACE SECONDS -- what crosses a link, packet by packet.

Captures every frame on IFACE (run it inside the namespace that holds the
interface; needs root: an AF_PACKET socket, no tcpdump) for SECONDS and
prints a per-minute breakdown, one line per kind of packet:

  <direction> <kind> <tcp payload bytes> <frame bytes> <per minute>

direction is "out" (sent by this host) or "in"; kind is "data" (a TCP
segment with payload), "ack" (a pure ACK), "tcp-<flags>" for other TCP
segments, "udp-<port>", "icmp6-<type>", "udp6-<port>" (destination
port), or the ethertype for anything else.  The total comes last:

  total <bytes per minute> <packets per minute>
  counters <bytes per minute> <packets per minute>

(the second line from the interface's counters over the same time: they
should agree).
On stderr: every packet with its time since the start, so that who sent
what after whom can be read off (ssh's encrypted records can only be told
apart by size and timing).
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 3
PACKET_OUTGOING = 4


def classify(frame):
    if len(frame) < 14:
        return "short", 0
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x86DD and len(frame) >= 54:
        nxt = frame[20]
        if nxt == 58 and len(frame) > 54:
            return "icmp6-%d" % frame[54], 0
        if nxt == 17 and len(frame) >= 58:
            return "udp6-%d" % struct.unpack("!H", frame[56:58])[0], 0
        return "ip6-next-%d" % nxt, 0
    if ethertype != 0x0800:
        return "ether-%04x" % ethertype, 0
    ip = frame[14:]
    if len(ip) < 20:
        return "short-ip", 0
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    proto = ip[9]
    if proto == 17 and len(ip) >= ihl + 4:
        return "udp-%d" % struct.unpack("!H", ip[ihl + 2:ihl + 4])[0], 0
    if proto != 6:
        return "ip-proto-%d" % proto, 0
    tcp = ip[ihl:]
    if len(tcp) < 20:
        return "short-tcp", 0
    off = (tcp[12] >> 4) * 4
    flags = tcp[13]
    payload = total - ihl - off
    if flags & 0x07:  # FIN SYN RST
        names = "".join(n for b, n in ((1, "F"), (2, "S"), (4, "R"))
                        if flags & b)
        return "tcp-" + names, payload
    if payload > 0:
        return "data", payload
    return "ack", 0


def main():
    ifname, seconds = sys.argv[1], float(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    c0 = counters(ifname)
    t0 = time.monotonic()
    end = t0 + seconds
    counts = {}
    nbytes = npkts = 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            frame, addr = s.recvfrom(65536)
        except socket.timeout:
            break
        t = time.monotonic() - t0
        direction = "out" if addr[2] == PACKET_OUTGOING else "in"
        kind, payload = classify(frame)
        key = (direction, kind, payload, len(frame))
        counts[key] = counts.get(key, 0) + 1
        nbytes += len(frame)
        npkts += 1
        print("%8.3f %-3s %-6s payload %5d frame %5d" %
              (t, direction, kind, payload, len(frame)), file=sys.stderr)
    c1 = counters(ifname)
    scale = 60.0 / seconds
    for key in sorted(counts, key=lambda k: (k[0], k[1], k[2])):
        print("%s %s %d %d %.1f" % (key + (counts[key] * scale,)))
    print("total %.0f %.1f" % (nbytes * scale, npkts * scale))
    print("counters %.0f %.1f" % ((c1[0] - c0[0]) * scale,
                                  (c1[1] - c0[1]) * scale))


def counters(ifname):
    """bytes and packets, both directions, as /proc/net/dev counts them"""
    d = "/sys/class/net/%s/statistics/" % ifname
    v = []
    for name in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
        with open(d + name) as f:
            v.append(int(f.read()))
    return v[0] + v[1], v[2] + v[3]


if __name__ == "__main__":
    main()
