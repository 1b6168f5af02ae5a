# tests/integration/export-peer.py DIR -- a scripted subsystem for
# export-agent.sh, run by sshd as the rnsplice subsystem (through a wrapper)
# on the agent's session.  What it does is read from DIR/mode:
#   old      a 1.0 subsystem: no "export" feature
#   accept   accepts every EXPORT (EXPORTING, then nothing more)
#   hostile  answers every EXPORT with replies for ids it was never given,
#            then EXPORTING; after FORWARDING it fetches DIR's page through
#            the socket (DIR/fetch.out), drops the export ("DROPPED id
#            duplicate"), and records in DIR/log whether the agent's
#            forward is gone afterwards ("cancelled").
# Every line either way goes to DIR/log.
import os, socket, sys, tempfile, time

d = sys.argv[1]
log = open(os.path.join(d, "log"), "a", buffering=1)
mode = open(os.path.join(d, "mode")).read().strip()


def send(line):
    log.write("S: " + line + "\n")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    return s


def fetch(path):
    s = connect(path)
    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data.split(b"\r\n\r\n", 1)[-1]


features = "relay,update" if mode == "old" else "relay,update,export"
send("HELLO %s e subsystem %s maxline=16384" % ("1.0" if mode == "old" else "1.1", features))
sockdir = tempfile.mkdtemp(prefix="sock.", dir=d)
paths = {}
for line in sys.stdin:
    line = line.rstrip("\n")
    log.write("A: " + line + "\n")
    f = line.split(" ")
    if f[0] == "BROWSE":
        send("SYNCED")
    elif f[0] == "PING":
        send("PONG " + f[1])
    elif f[0] == "EXPORT" and mode == "accept":
        send("EXPORTING %s 40000 %s/%s.sock" % (f[1], sockdir, f[1]))
    elif f[0] == "EXPORT" and mode == "hostile":
        i = f[1]
        send("EXPORTING 999999 40000 %s/999999.sock" % sockdir)
        send("DROPPED 999998 denied never%20offered")
        paths[i] = "%s/%s.sock" % (sockdir, i)
        send("EXPORTING %s 40000 %s" % (i, paths[i]))
        send("EXPORTING %s 40001 %s" % (i, paths[i]))
    elif f[0] == "FORWARDING" and f[1] in paths:
        p = paths[f[1]]
        open(os.path.join(d, "fetch.out"), "wb").write(fetch(p))
        log.write("fetched\n")
        send("DROPPED %s duplicate a%%20better%%20copy%%20appeared" % f[1])
        for _ in range(100):
            try:
                connect(p).close()
            except OSError:
                log.write("cancelled\n")
                break
            time.sleep(0.05)
