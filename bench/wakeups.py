#!/usr/bin/env python3
"""wakeups STRACE_LOG SECONDS -- classify an idle process's wake-ups.

STRACE_LOG comes from `strace -f -tt -T -e trace=poll,...,read,write,... -p PID`
over SECONDS.  A wake-up is a poll-family call that slept (took 1 ms or
more) and returned; the system calls that follow it, up to the next poll
that sleeps, are what the process did with that wake-up.  A wake-up is a
keepalive if it read or wrote a protocol PING, PONG or BEAT line (the
agent's and the subsystem's keepalives; ssh's own ServerAlive messages stay
inside ssh and never wake the agent).  Prints per-minute rates:

  wakeups_per_min N
  keepalive_wakeups_per_min N
  other_wakeups_per_min N

and, on stderr, every non-keepalive wake-up with its system calls.
"""
import re
import sys

POLLS = ("poll", "ppoll", "epoll_wait", "epoll_pwait", "select", "pselect6",
         "restart_syscall")
LINE = re.compile(r"^(?:\d+\s+)?(\d+:\d+:\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^(?:<\.\.\.\s+)?(\w+)")
DUR = re.compile(r"<(\d+\.\d+)>\s*$")


def main():
    path, seconds = sys.argv[1], float(sys.argv[2])
    episodes = []  # [first line, [following lines]]
    current = None
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            body = m.group(2)
            if "unfinished" in body and "resumed" not in body:
                continue  # the "resumed" line carries the result
            c = CALL.match(body)
            if not c:
                continue
            name = c.group(1)
            d = DUR.search(body)
            slept = d is not None and float(d.group(1)) >= 0.001
            if name in POLLS and slept and " = " in body:
                current = [raw.strip(), []]
                episodes.append(current)
            elif current is not None:
                current[1].append(raw.strip())
    keep = 0
    others = []
    for first, calls in episodes:
        if any(("PING" in c or "PONG" in c or "BEAT" in c) for c in calls):
            keep += 1
        else:
            others.append((first, calls))
    per_min = 60.0 / seconds
    print("wakeups_per_min %.1f" % (len(episodes) * per_min))
    print("keepalive_wakeups_per_min %.1f" % (keep * per_min))
    print("other_wakeups_per_min %.1f" % (len(others) * per_min))
    for first, calls in others:
        sys.stderr.write(first + "\n")
        for c in calls[:8]:
            sys.stderr.write("    " + c + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
