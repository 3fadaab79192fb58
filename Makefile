# relayq: a relay-only mail transfer agent.  Plain make; see README.md.

CC		?= cc
CFLAGS		?= -O2 -g
WARNINGS	 = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes
PREFIX		?= /usr
DESTDIR		?=
SYSCONFDIR	?= /etc
SPOOLDIR	?= /var/spool/relayq
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
SANITIZE	?=

# override: also when CFLAGS is given on the command line (CI does)
ifneq ($(SANITIZE),)
override CFLAGS	+= -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

# ours apart from CPPFLAGS, so `make CPPFLAGS=$(dpkg-buildflags ...)' adds
BASE_CPPFLAGS	 = -D_GNU_SOURCE -Isrc
PATH_DEFS	 = -DSYSCONFDIR='"$(SYSCONFDIR)"' -DSPOOLDIR='"$(SPOOLDIR)"'
ALL_CFLAGS	 = -std=gnu11 $(WARNINGS) $(CFLAGS)

# shared by both programs; no TLS code in the front end
COMMON_SRCS	 = src/util.c \
		   src/conf.c \
		   src/log.c \
		   src/addr.c \
		   src/spool.c \
		   src/ctl.c \
		   src/submit.c \
		   src/aliases.c
SENDMAIL_SRCS	 = src/sendmail.c \
		   src/smargs.c \
		   src/msg.c \
		   src/bs.c
RELAYQ_SRCS	 = src/relayq.c \
		   src/drain.c src/drainctl.c src/idle.c \
		   src/drainq.c \
		   src/drainsess.c \
		   src/drainwork.c \
		   src/drainquar.c \
		   src/queue.c \
		   src/bounce.c \
		   src/check.c \
		   src/sandbox.c \
		   src/smtp.c \
		   src/auth.c \
		   src/authcmd.c \
		   src/probe.c \
		   src/tls.c \
		   src/import.c \
		   $(IMPORT_SRCS)
# relayq import's parsers (pure; also linked into test/unit and fuzz_import)
IMPORT_SRCS	 = src/import_parse.c \
		   src/import_ssmtp.c \
		   src/import_msmtp.c \
		   src/import_nullmailer.c \
		   src/import_dma.c \
		   src/import_postfix.c
IMPORT_OBJS	 = $(IMPORT_SRCS:.c=.o)

COMMON_OBJS	 = $(COMMON_SRCS:.c=.o)
SENDMAIL_OBJS	 = $(SENDMAIL_SRCS:.c=.o)
RELAYQ_OBJS	 = $(RELAYQ_SRCS:.c=.o)
BSD_LIBS	 = -lbsd
TLS_LIBS	 = -lmbedtls -lmbedx509 -lmbedcrypto

all: sendmail relayq

# libbsd linked statically into the front end: one shared library less to
# map on every call (make bench: about 0.2 ms of a 2 ms submission)
SENDMAIL_LIBS	?= -Wl,-Bstatic -lbsd -lmd -Wl,-Bdynamic

sendmail: $(SENDMAIL_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(SENDMAIL_OBJS) $(COMMON_OBJS) $(SENDMAIL_LIBS)

relayq: $(RELAYQ_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(RELAYQ_OBJS) $(COMMON_OBJS) $(TLS_LIBS) \
	    $(BSD_LIBS)

.c.o:
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PATH_DEFS) $(ALL_CFLAGS) -c -o $@ $<

$(COMMON_OBJS) $(SENDMAIL_OBJS) $(RELAYQ_OBJS): src/relayq.h src/crash.h

# Everything is rebuilt when the flags change (make check SANITIZE=...
# after a plain build must not link old objects): .flags holds the last.
BUILD_FLAGS	 = $(CC) $(CPPFLAGS) $(PATH_DEFS) $(ALL_CFLAGS) $(LDFLAGS)
.flags: FORCE
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@
$(COMMON_OBJS) $(SENDMAIL_OBJS) $(RELAYQ_OBJS) test/unit test/smtpd \
    test/sendmail-sgid test/nosandbox: .flags
$(SENDMAIL_OBJS): src/msg.h
src/smtp.o src/drain.o src/tls.o src/relayq.o src/auth.o src/authcmd.o: src/client.h
src/sendmail.o src/smargs.o: src/smargs.h
src/import.o $(IMPORT_OBJS) src/relayq.o: src/import.h

# --- tests -----------------------------------------------------------

UNIT_SRCS	 = test/unit.c \
		   test/unit_import.c \
		   test/unit_authcmd.c \
		   test/unit_smargs.c \
		   test/unit_bs.c \
		   test/unit_drainq.c
UNIT_SRCS	+= test/unit_spool.c
test/unit: $(UNIT_SRCS) src/msg.o src/smtp.o src/auth.o src/authcmd.o \
	    src/tls.o $(IMPORT_OBJS) src/idle.o src/smargs.o src/bs.o \
	    src/drainq.o $(COMMON_OBJS) test/unit.h src/smargs.h src/msg.h
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(UNIT_SRCS) \
	    src/msg.o src/smtp.o src/auth.o src/authcmd.o src/tls.o \
	    $(IMPORT_OBJS) src/idle.o src/smargs.o src/bs.o src/drainq.o \
	    $(COMMON_OBJS) $(TLS_LIBS) \
	    $(BSD_LIBS)

# sendmail reading its config from test/sgid-etc, for the test of the
# installed (setgid) model, where RELAYQ_CONFIG and -C are refused
test/sendmail-sgid: $(SENDMAIL_SRCS) $(COMMON_SRCS) src/relayq.h src/msg.h
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) -DSYSCONFDIR='"$(CURDIR)/test/sgid-etc"' \
	    -DSPOOLDIR='"$(SPOOLDIR)"' \
	    $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SENDMAIL_SRCS) $(COMMON_SRCS) \
	    $(BSD_LIBS)

# The crash battery's binaries: the same sources with crash points
# (src/crash.h), which a normal build never contains.
test/relayq-crash: $(RELAYQ_SRCS) $(COMMON_SRCS) src/relayq.h src/crash.h
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PATH_DEFS) -DRELAYQ_TEST $(ALL_CFLAGS) $(LDFLAGS) -o $@ \
	    $(RELAYQ_SRCS) $(COMMON_SRCS) $(TLS_LIBS) $(BSD_LIBS)

test/sendmail-crash: $(SENDMAIL_SRCS) $(COMMON_SRCS) src/relayq.h \
	    src/crash.h
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PATH_DEFS) -DRELAYQ_TEST $(ALL_CFLAGS) $(LDFLAGS) -o $@ \
	    $(SENDMAIL_SRCS) $(COMMON_SRCS) $(BSD_LIBS)

test/smtpd: test/smtpd.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/smtpd.c $(TLS_LIBS)

# LD_PRELOAD shim: names under relayq.test resolve to 127.0.0.1
test/fakedns.so: test/fakedns.c
	$(CC) $(ALL_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ test/fakedns.c -ldl

test/nosandbox: test/nosandbox.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/nosandbox.c

deps:
	@sh test/deps.sh

# libFuzzer targets, one per parser that sees outside bytes (test/fuzz/).
# make fuzz FUZZ_SECONDS=N runs each for N seconds from its seed corpus.
FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_TARGETS	 = reply engine addr msg conf spool aliases ctl authcmd argv auth import bs
FUZZ_BINS	 = $(FUZZ_TARGETS:%=test/fuzz/fuzz_%)
FUZZ_LIBSRCS	 = $(COMMON_SRCS) src/msg.c src/smtp.c src/auth.c \
		   src/authcmd.c src/tls.c \
		   src/smargs.c \
		   src/bs.c \
		   $(IMPORT_SRCS) \
		   test/fuzz/fuzz_file.c
# (-Wno-format-nonliteral: clang, unlike gcc, flags the v*printf wrappers)
test/fuzz/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz.h $(FUZZ_LIBSRCS) \
	    src/relayq.h src/msg.h src/client.h src/smargs.h src/import.h
	$(FUZZ_CC) $(BASE_CPPFLAGS) $(PATH_DEFS) $(CPPFLAGS) -Itest/fuzz -std=gnu11 $(WARNINGS) -O1 -g \
	    -Wno-format-nonliteral -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -o $@ $< $(FUZZ_LIBSRCS) \
	    $(TLS_LIBS) $(BSD_LIBS)

fuzz-deps:
	@PKGS="clang libclang-rt-14-dev" sh test/deps.sh

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@sh test/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check: deps all test/unit test/smtpd test/sendmail-sgid test/fakedns.so \
	    test/relayq-crash test/sendmail-crash test/nosandbox
	@bash test/check.sh

demo: deps all test/smtpd
	@bash test/demo.sh

interop: deps all
	@bash test/interop.sh

# contrib/docker/Dockerfile.debian built and run for real, with podman
# (root only; see test/docker.sh)
docker-test: deps test/smtpd
	@PKGS="podman runc debootstrap" sh test/deps.sh
	@bash test/docker.sh

bench: deps all test/smtpd
	@bash test/bench.sh

# every manual page mandoc-clean, style messages included; run inside doc/
# so that .Xr references between our pages resolve
lint: deps
	@cd doc && out=$$(mandoc -Tlint -Wstyle *.[1-9] 2>&1); st=$$?; \
	    if [ -n "$$out" ] || [ $$st -ne 0 ]; then echo "$$out"; exit 1; fi; \
	    echo "mandoc -Tlint -Wstyle: $$(ls *.[1-9] | wc -l) pages clean"

# the Debian package, from contrib/debian; see contrib/debian/mkdeb.sh
deb:
	@sh contrib/debian/mkdeb.sh

install: all
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" \
	    SPOOLDIR="$(SPOOLDIR)" SBINDIR="$(SBINDIR)" MANDIR="$(MANDIR)" \
	    sh contrib/install.sh

clean:
	rm -f sendmail relayq src/*.o test/unit test/smtpd test/sendmail-sgid \
	    test/fakedns.so test/relayq-crash test/sendmail-crash \
	    test/nosandbox .flags $(FUZZ_BINS)
	rm -rf build

.PHONY: all check demo interop bench install clean deps lint deb FORCE fuzz \
	fuzz-deps docker-test
