#!/usr/bin/python3
"""Drive rnsplice-subsystem for the tests/integration/subsystem-*.sh scripts.

  session LOG CTL CMD...   run CMD (e.g. ssh siteA -s rnsplice); append
                           every line it prints to LOG as "MS LINE" (MS:
                           milliseconds since the epoch); send it every line
                           written to the FIFO CTL.  "!close" closes CMD's
                           stdin, "!quit" ends.  Ends on CMD's EOF too.
  relay NAME TYPE DOMAIN SEND RECV MODE CMD...
                           a relay session: HELLO, RELAY, then
                           MODE send-first: send the file SEND, half-close,
                             read everything into RECV;
                           MODE recv-first: read until EOF into RECV (the
                             service half-closed first), then send SEND and
                             close;
                           MODE early: send SEND right after the RELAY line,
                             before RELAYING, then as send-first;
                           MODE vanish: send SEND, half-close, then kill CMD
                             (the agent goes away, the service stays silent).
                           Prints the first line (RELAYING or ERROR ...) and
                           exits 0 on RELAYING, 3 on ERROR.
  server PORT MODE STATS   a TCP service (IPv4 and IPv6); every connection
                           is counted in
                           the file STATS ("conns N").  MODE hash: read to
                           EOF, answer "N SHA256", close.  MODE first: send
                           100000 bytes, shut the write side, read to EOF,
                           write "got N SHA256" into STATS.  MODE silent: read
                           to EOF, then keep the connection open, silent.
"""
import hashlib
import os
import select
import socket
import subprocess
import sys
import time


def now_ms():
    return int(time.time() * 1000)


def session(log, ctl, cmd):
    cfd = os.open(ctl, os.O_RDWR | os.O_NONBLOCK)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = p.stdout.fileno()
    buf = b""
    cbuf = b""
    with open(log, "ab", buffering=0) as lf:
        while True:
            fds = [cfd] + ([out] if out is not None else [])
            r, _, _ = select.select(fds, [], [], 1.0)
            if out in r:
                d = os.read(out, 65536)
                if not d:
                    lf.write(b"%d !eof\n" % now_ms())
                    break
                buf += d
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    lf.write(b"%d %s\n" % (now_ms(), line))
            if cfd in r:
                cbuf += os.read(cfd, 65536)
                while b"\n" in cbuf:
                    line, cbuf = cbuf.split(b"\n", 1)
                    if line == b"!quit":
                        p.kill()
                        return 0
                    if line == b"!close":
                        p.stdin.close()
                        continue
                    p.stdin.write(line + b"\n")
                    p.stdin.flush()
    p.wait()
    return 0


def read_line(fd, deadline):
    buf = b""
    while b"\n" not in buf:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            raise TimeoutError("no answer")
        d = os.read(fd, 1)
        if not d:
            raise EOFError("EOF before a line")
        buf += d
    return buf[:-1]


def read_all(fd, deadline):
    data = b""
    while True:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            raise TimeoutError("no EOF")
        d = os.read(fd, 65536)
        if not d:
            return data
        data += d


def relay(name, type_, domain, send, recv, mode, cmd):
    payload = open(send, "rb").read()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = p.stdout.fileno()
    deadline = time.time() + 20
    req = b"HELLO 1.0 relaytest agent update\nRELAY %s %s %s\n" % (
        name.encode(), type_.encode(), domain.encode())
    if mode == "early":
        req += payload
    p.stdin.write(req)
    p.stdin.flush()
    hello = read_line(out, deadline)
    if not hello.startswith(b"HELLO "):
        print("unexpected: %s" % hello.decode(errors="replace"))
        return 2
    first = read_line(out, deadline)
    print(first.decode(errors="replace"), flush=True)
    if first != b"RELAYING":
        p.stdin.close()
        p.wait()
        return 3
    if mode == "recv-first":
        data = read_all(out, deadline)
        p.stdin.write(payload)
        p.stdin.close()
    elif mode == "vanish":
        p.stdin.write(payload)
        p.stdin.close()
        time.sleep(0.5)
        p.kill()
        p.wait()
        return 0
    else:
        if mode != "early":
            p.stdin.write(payload)
        p.stdin.close()
        data = read_all(out, deadline)
    open(recv, "wb").write(data)
    p.wait()
    return 0


def server(port, mode, stats):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    conns = 0
    with open(stats, "w") as f:
        f.write("conns 0\n")
    while True:
        c, _ = s.accept()
        conns += 1
        with open(stats, "a") as f:
            f.write("conns %d\n" % conns)
        if mode == "hash":
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            c.sendall(b"%d %s\n" % (len(data),
                      hashlib.sha256(data).hexdigest().encode()))
            c.close()
        elif mode == "silent":
            while c.recv(65536):
                pass
            time.sleep(60)
            c.close()
        else:
            c.sendall(b"s" * 100000)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            with open(stats, "a") as f:
                f.write("got %d %s\n" % (len(data),
                        hashlib.sha256(data).hexdigest()))
            c.close()


def main():
    a = sys.argv[1:]
    if a and a[0] == "session" and len(a) >= 4:
        return session(a[1], a[2], a[3:])
    if a and a[0] == "relay" and len(a) >= 8:
        try:
            return relay(a[1], a[2], a[3], a[4], a[5], a[6], a[7:])
        except (TimeoutError, EOFError) as e:
            print("relay: %s" % e, flush=True)
            return 2
    if a and a[0] == "server" and len(a) == 4:
        return server(int(a[1]), a[2], a[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
