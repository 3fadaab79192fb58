#!/usr/bin/python3
# listen_bench.py PORT N CONNECTIONS MESSAGE: N messages through the SMTP
# listener over CONNECTIONS sessions in parallel (threads), each session
# sending its share one after another; prints "msg_per_s=R" (make bench).
import smtplib, sys, threading, time

port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
msg = open(sys.argv[4], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
errors = []

def run(count):
    try:
        s = smtplib.SMTP('127.0.0.1', port, local_hostname='bench.example.org')
        for _ in range(count):
            s.sendmail('bench@example.org', ['sink@example.net'], msg)
        s.quit()
    except Exception as e:
        errors.append(e)

t0 = time.monotonic()
threads = [threading.Thread(target=run, args=(n // conns + (1 if i < n % conns else 0),))
           for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
t1 = time.monotonic()
if errors:
    sys.exit('listen_bench: %s' % errors[0])
print('msg_per_s=%.0f' % (n / (t1 - t0)))
