#!/usr/bin/python3
"""Compare what Postfix's sendmail and relayq's sendmail did with each case
of the differential corpus (test/interop_diff.sh runs them).

usage: compare.py CASES INPUTDIR ACCEPTED PFDIR RQDIR

PFDIR and RQDIR hold, per case NAME: NAME.rc (exit code), NAME.err
(stderr), and when the sink received the message NAME.env (test/smtpd's
envelope: mail=, rcpt= lines) and NAME.msg (the message), and NAME.bounce
when a bounce came too.  Each difference has a key:

  exit       one side exited 0, the other did not
  exit-code  both refused, with different exit codes
  delivered  one side's message reached the sink, the other's did not
  bounce     one side also sent a bounce
  mail       the MAIL FROM command and its parameters (SIZE= masked)
  rcpt       the RCPT TO commands and their parameters
  rcpt-order the same RCPT TO commands in another order
  hdr:NAME   the values of header field NAME (lower case) differ
  hdr-order  the same fields, in another order
  body       the body bytes

Masked before comparing: every Received field (each side adds its own),
and a Date or Message-ID field whose value is not in the input
(generated: time and queue id differ; so do the case of the name, Postfix
writing "Message-Id", and the place among the added fields).  ACCEPTED lists "CASE<TAB>KEY<TAB>
reason" lines (CASE "*" for every case); a difference not listed there
fails.  Prints TAP-style "ok - " / "not ok - " lines and the counts.
"""
import os
import re
import sys


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


def esc(b, limit=160):
    s = b if isinstance(b, str) else b.decode("utf-8", "backslashreplace")
    s = s.encode("unicode_escape").decode("ascii")
    return s if len(s) <= limit else s[:limit] + "..."


def envelope(data):
    mail, rcpt = b"", []
    for line in data.split(b"\n"):
        if line.startswith(b"mail="):
            mail = re.sub(rb" SIZE=\d+", b" SIZE=N", line[5:])
        elif line.startswith(b"rcpt="):
            rcpt.append(line[5:])
    return mail, rcpt


def split_message(data):
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return data, b"", False
    return data[:i + 2], data[i + 4:], True


def fields(header, given):
    out = []
    for line in re.split(rb"(?<=\r\n)", header):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1][1] += line
            continue
        name = line.split(b":", 1)[0].strip().lower()
        out.append([name.decode("latin-1"), line])
    kept = []
    for name, text in out:
        if name == "received":
            continue
        if name in ("date", "message-id"):
            value = text.split(b":", 1)[1].strip()
            if value not in given:
                # generated: its place and the case of its name too
                text = name.encode() + b": <generated>\r\n"
        kept.append((name, text))
    return kept


def compare(name, given, pf, rq):
    """Returns {key: (pf detail, rq detail)}."""
    d = {}
    rc = (pf["rc"], rq["rc"])
    if (rc[0] == b"0") != (rc[1] == b"0"):
        d["exit"] = rc
    elif rc[0] != rc[1]:
        d["exit-code"] = rc
    if (pf["env"] is None) != (rq["env"] is None):
        d["delivered"] = ("yes" if pf["env"] is not None else "no",
                          "yes" if rq["env"] is not None else "no")
    if pf["bounce"] != rq["bounce"]:
        d["bounce"] = (str(pf["bounce"]), str(rq["bounce"]))
    if pf["env"] is None or rq["env"] is None:
        return d
    pm, pr = envelope(pf["env"])
    rm, rr = envelope(rq["env"])
    if pm != rm:
        d["mail"] = (pm, rm)
    if sorted(pr) != sorted(rr):
        d["rcpt"] = (b" | ".join(pr), b" | ".join(rr))
    elif pr != rr:
        d["rcpt-order"] = (b" | ".join(pr), b" | ".join(rr))
    ph, pb, _ = split_message(pf["msg"])
    rh, rb, _ = split_message(rq["msg"])
    pfl, rfl = fields(ph, given), fields(rh, given)
    for n in sorted(set(f[0] for f in pfl) | set(f[0] for f in rfl)):
        a = [t for f, t in pfl if f == n]
        b = [t for f, t in rfl if f == n]
        if a != b:
            d["hdr:" + n] = (b"".join(a) or b"(none)", b"".join(b) or b"(none)")
    po = [f for f, t in pfl if not t.endswith(b": <generated>\r\n")]
    ro = [f for f, t in rfl if not t.endswith(b": <generated>\r\n")]
    if not any(k.startswith("hdr:") for k in d) and po != ro:
        d["hdr-order"] = (" ".join(po), " ".join(ro))
    if pb != rb:
        i = 0
        while i < min(len(pb), len(rb)) and pb[i] == rb[i]:
            i += 1
        d["body"] = ("%d bytes, at %d: %s" % (len(pb), i, esc(pb[i:i + 60])),
                     "%d bytes, at %d: %s" % (len(rb), i, esc(rb[i:i + 60])))
    return d


def main():
    cases_f, indir, acc_f, pfdir, rqdir = sys.argv[1:6]
    accepted = {}
    used = set()
    for n, line in enumerate(open(acc_f, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2].strip():
            print("not ok - diff: %s line %d: want CASE<TAB>KEY<TAB>reason"
                  % (acc_f, n))
            continue
        accepted[(parts[0], parts[1])] = n
    total = identical = acc = bad = 0
    for line in open(cases_f, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        name, inp = line.split("\t")[:2]
        given = read(os.path.join(indir, inp), b"")
        side = {}
        for tag, d in (("pf", pfdir), ("rq", rqdir)):
            side[tag] = {
                "rc": (read(os.path.join(d, name + ".rc"), b"?")).strip(),
                "env": read(os.path.join(d, name + ".env")),
                "msg": read(os.path.join(d, name + ".msg"), b""),
                "bounce": os.path.exists(os.path.join(d, name + ".bounce")),
            }
        total += 1
        diffs = compare(name, given, side["pf"], side["rq"])
        if not diffs:
            identical += 1
            print("ok - diff %s: identical" % name)
            continue
        unlisted = []
        for k in sorted(diffs):
            for key in ((name, k), ("*", k)):
                if key in accepted:
                    used.add(key)
                    break
            else:
                unlisted.append(k)
        if unlisted:
            bad += 1
            print("not ok - diff %s: unlisted differences: %s" % (name, "; ".join(
                "%s: postfix %s, relayq %s" % (k, esc(diffs[k][0]), esc(diffs[k][1]))
                for k in unlisted)))
        else:
            acc += 1
            print("ok - diff %s: accepted differences: %s" % (name, ", ".join(sorted(diffs))))
    for key, n in sorted(accepted.items(), key=lambda x: x[1]):
        if key not in used:
            print("# diff: %s line %d (%s %s) matched no difference"
                  % (acc_f, n, key[0], key[1]))
    line = ("diff: %d cases, %d identical, %d with accepted differences, "
            "%d with unlisted ones" % (total, identical, acc, bad))
    print(("ok - " if bad == 0 and total > 0 else "not ok - ") + line
          + ("" if bad == 0 and total > 0 else ": see above"))


main()
