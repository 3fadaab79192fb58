#!/usr/bin/python3
# dnsd.py: a tiny DNS server for the tests, on UDP ADDR:PORT.
# Each NAME=ADDR argument answers an A query for NAME with ADDR; any
# other A or AAAA query for NAME gets an empty answer, and any other
# name NXDOMAIN.  Writes its pid to PIDFILE once listening.
#
#	dnsd.py ADDR PORT PIDFILE NAME=ADDR...
import os
import socket
import struct
import sys

addr, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = dict(a.lower().split("=", 1) for a in sys.argv[4:])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
with open(pidfile, "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 17:
        continue
    qid, = struct.unpack("!H", q[:2])
    labels, i = [], 12
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    qtype, = struct.unpack("!H", q[i + 1:i + 3])
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    answer = b""
    rcode = 0 if name in names else 3
    if name in names and qtype == 1:
        answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + \
            socket.inet_aton(names[name])
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if answer else 0,
                      0, 0)
    s.sendto(hdr + question + answer, peer)
