#!/usr/bin/python3
# smtpraw.py PORT BYTES [--src ADDR] [--host ADDR] [--close-after-send]:
# one raw SMTP client session for the listener's tests (test/t_listen*.sh).
# BYTES is the body of a Python string literal ("EHLO x\r\n..."), sent
# after the greeting in one write (pipelined, as a smuggling client
# would); every reply until the server closes (or 10 s of silence) goes
# to stdout.  --close-after-send: disconnect right after the write.
import socket, sys, ast

args = sys.argv[1:]
port = int(args[0])
data = ast.literal_eval('"' + args[1] + '"').encode('latin-1')
src = host = None
close_after = False
i = 2
while i < len(args):
    if args[i] == '--src':
        src = args[i + 1]; i += 2
    elif args[i] == '--host':
        host = args[i + 1]; i += 2
    elif args[i] == '--close-after-send':
        close_after = True; i += 1
    else:
        sys.exit('smtpraw: unknown option ' + args[i])
host = host or '127.0.0.1'
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
if src:
    s.bind((src, 0))
s.settimeout(10)
s.connect((host, port))
out = b''
try:
    out += s.recv(4096)
    if data:
        s.sendall(data)
    if not close_after:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
except (socket.timeout, ConnectionResetError):
    pass
s.close()
sys.stdout.write(out.decode('latin-1'))
