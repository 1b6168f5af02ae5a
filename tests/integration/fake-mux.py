# tests/integration/fake-mux.py CTL PID -- the control socket of a fake ssh
# master (tests/integration/fake-ssh, whose pid is PID): listens on CTL,
# greets each client with the mux protocol's HELLO (version 4) and answers
# ALIVE_CHECK with PID; nothing else.  Exits once PID is no longer its
# parent.
import os, socket, struct, sys

path, pid = sys.argv[1], int(sys.argv[2])
MUX_MSG_HELLO = 0x00000001
MUX_C_ALIVE_CHECK = 0x10000004
MUX_S_ALIVE = 0x80000005


def packets(c):
    buf = b""
    while True:
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            yield buf[4:4 + n]
            buf = buf[4 + n:]
        d = c.recv(4096)
        if not d:
            return
        buf += d


s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
s.settimeout(0.5)
while os.getppid() == pid:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(5)
    try:
        c.sendall(struct.pack(">III", 8, MUX_MSG_HELLO, 4))
        for body in packets(c):
            if len(body) >= 8 and struct.unpack(">I", body[:4])[0] == MUX_C_ALIVE_CHECK:
                rid = struct.unpack(">I", body[4:8])[0]
                c.sendall(struct.pack(">IIII", 12, MUX_S_ALIVE, rid, pid))
    except OSError:
        pass
    c.close()
