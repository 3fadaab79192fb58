#!/usr/bin/python3
# syslogd.py: a stand-in syslog daemon for the tests: a datagram socket
# at PATH (mode 666), each message received appended to OUT as one line.
# Writes its pid to PIDFILE once listening.
#
#	syslogd.py PATH OUT PIDFILE
import os
import socket
import sys

path, out, pidfile = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(pidfile, "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    msg = s.recv(8192)
    with open(out, "ab") as f:
        f.write(msg.rstrip(b"\n") + b"\n")
