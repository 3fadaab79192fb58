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
# Header dependencies written by the compiler beside each object (X.d,
# read back at the end of this file); -MP adds an empty rule for each
# header, so that removing a header does not break the next build.
DEPFLAGS	 = -MMD -MP

# shared by both programs; no TLS code in the front end
COMMON_SRCS	 = src/util.c \
		   src/conf.c \
		   src/route.c \
		   src/log.c \
		   src/addr.c \
		   src/spool.c \
		   src/ctl.c \
		   src/submit.c \
		   src/aliases.c \
		   src/canon.c \
		   src/rate.c \
		   src/queue.c \
		   src/queue_local.c \
		   src/queue_ids.c \
		   src/listen_proto.c
SENDMAIL_SRCS	 = src/sendmail.c \
		   src/submission.c \
		   src/smdrop.c \
		   src/smargs.c \
		   src/msg.c \
		   src/sasl.c \
		   src/bs_line.c \
		   src/bs.c \
		   src/bs_auth.c
RELAYQ_SRCS	 = src/relayq.c \
		   src/drain.c src/drain_ctl.c src/idle.c \
		   src/drain_conn.c \
		   src/drain_spool.c \
		   src/drain_q.c \
		   src/drain_sess.c \
		   src/drain_work.c \
		   src/drain_quar.c \
		   src/drain_import.c \
		   src/drain_try.c \
		   src/drain_rate.c \
		   src/drain_conf.c \
		   src/stopcmd.c \
		   src/bounce.c \
		   src/check.c \
		   src/sandbox.c \
		   src/smtp.c \
		   src/auth.c \
		   src/authcmd.c \
		   src/probe.c \
		   src/tls.c \
		   src/import.c \
		   src/listen.c \
		   src/listen_addr.c \
		   src/listen_auth.c \
		   src/listen_session.c \
		   src/listen_tls.c \
		   src/listen_sandbox.c \
		   $(IMPORT_SRCS)
# relayq import's parsers (pure; also linked into test/unit and fuzz_import)
IMPORT_SRCS	 = src/import_format.c \
		   src/import_parse.c \
		   src/import_ssmtp.c \
		   src/import_msmtp.c \
		   src/import_nullmailer.c \
		   src/import_dma.c \
		   src/import_postfix.c \
		   src/import_canon.c
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
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PATH_DEFS) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# Everything is rebuilt when the flags change (make check SANITIZE=...
# after a plain build must not link old objects): .flags holds the last.
# `+': the comparison runs under make -n and -q too, so that they report
# what a build would do instead of assuming .flags changed (make -n with
# other flags does rewrite it: the next build rebuilds all, never less).
BUILD_FLAGS	 = $(CC) $(CPPFLAGS) $(PATH_DEFS) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS)
.flags: FORCE
	+@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@

# --- tests -----------------------------------------------------------

UNIT_SRCS	 = test/unit.c \
		   test/unit_addr.c \
		   test/unit_util.c \
		   test/unit_conf.c \
		   test/unit_route.c \
		   test/unit_msg.c \
		   test/unit_smtp.c \
		   test/unit_aliases.c \
		   test/unit_auth.c \
		   test/unit_ctl.c \
		   test/unit_submit.c \
		   test/unit_idle.c \
		   test/unit_tls.c \
		   test/unit_import.c \
		   test/unit_authcmd.c \
		   test/unit_smargs.c \
		   test/unit_bs.c \
		   test/unit_listen.c \
		   test/unit_lauth.c \
		   test/unit_lproto.c \
		   test/unit_sasl.c \
		   test/unit_drainq.c \
		   test/unit_queueids.c \
		   test/unit_sort.c \
		   test/unit_spool.c \
		   test/unit_canon.c \
		   test/unit_rate.c \
		   test/unit_reload.c
UNIT_OBJS	 = $(UNIT_SRCS:.c=.o)
# every module of both programs but their main()
LIB_OBJS	 = $(COMMON_OBJS) \
		   $(filter-out src/sendmail.o,$(SENDMAIL_OBJS)) \
		   $(filter-out src/relayq.o,$(RELAYQ_OBJS))
test/unit: $(UNIT_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB_OBJS) $(TLS_LIBS) \
	    $(BSD_LIBS)

# sendmail reading its config from test/sgid-etc, for the test of the
# installed (setgid) model, where RELAYQ_CONFIG and -C are refused
SGID_OBJS	 = $(addprefix build/sgid/,$(SENDMAIL_OBJS) $(COMMON_OBJS))
$(SGID_OBJS): build/sgid/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) \
	    -DSYSCONFDIR='"$(CURDIR)/test/sgid-etc"' -DRELAYQ_TEST \
	    -DSPOOLDIR='"$(SPOOLDIR)"' \
	    $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<
# its config directory is this tree's path: a tree copied or moved
# elsewhere (the tests' copy of a clone they cannot reach) rebuilds them
build/sgid/.curdir: FORCE
	+@mkdir -p $(@D); echo '$(CURDIR)' | cmp -s - $@ || echo '$(CURDIR)' > $@
$(SGID_OBJS): build/sgid/.curdir
test/sendmail-sgid: $(SGID_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(SGID_OBJS) $(BSD_LIBS)

# The crash battery's binaries: the same sources with crash points
# (src/crash.h), which a normal build never contains.
CRASH_RELAYQ_OBJS = $(addprefix build/crash/,$(RELAYQ_OBJS) $(COMMON_OBJS))
CRASH_SENDMAIL_OBJS = $(addprefix build/crash/,$(SENDMAIL_OBJS) $(COMMON_OBJS))
CRASH_OBJS	 = $(sort $(CRASH_RELAYQ_OBJS) $(CRASH_SENDMAIL_OBJS))
$(CRASH_OBJS): build/crash/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(PATH_DEFS) -DRELAYQ_TEST \
	    $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<
test/relayq-crash: $(CRASH_RELAYQ_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CRASH_RELAYQ_OBJS) $(TLS_LIBS) $(BSD_LIBS)
test/sendmail-crash: $(CRASH_SENDMAIL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CRASH_SENDMAIL_OBJS) $(BSD_LIBS)

test/smtpd: test/smtpd.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/smtpd.c $(TLS_LIBS)

# LD_PRELOAD shim: names under relayq.test resolve to 127.0.0.1
test/fakedns.so: test/fakedns.c
	$(CC) $(ALL_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ test/fakedns.c -ldl

test/nosandbox: test/nosandbox.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/nosandbox.c

# a stand-in for sendmail under the listener's sandbox (t_listen_sandbox.sh)
test/listen_probe: test/listen_probe.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/listen_probe.c
check: test/listen_probe

deps:
	@sh test/deps.sh

# libFuzzer targets, one per parser that sees outside bytes (test/fuzz/).
# make fuzz FUZZ_SECONDS=N runs each for N seconds from its seed corpus.
FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_TARGETS	 = reply engine addr msg conf spool aliases ctl authcmd argv auth import bs
FUZZ_TARGETS	+= submit
FUZZ_TARGETS	+= cert
FUZZ_TARGETS	+= canon
FUZZ_TARGETS	+= listen
FUZZ_TARGETS	+= rate
FUZZ_TARGETS	+= lauth
FUZZ_TARGETS	+= lproto
FUZZ_BINS	 = $(FUZZ_TARGETS:%=test/fuzz/fuzz_%)
FUZZ_LIBSRCS	 = $(COMMON_SRCS) src/msg.c src/smtp.c src/auth.c \
		   src/authcmd.c src/tls.c \
		   src/smargs.c \
		   src/bs_line.c \
		   src/bs.c \
		   src/bs_auth.c \
		   src/sasl.c \
		   src/listen_addr.c \
		   src/listen_auth.c \
		   $(IMPORT_SRCS) \
		   test/fuzz/fuzz_file.c
FUZZ_LIBOBJS	 = $(addprefix build/fuzz/,$(FUZZ_LIBSRCS:.c=.o))
FUZZ_OBJS	 = $(FUZZ_LIBOBJS) $(FUZZ_BINS:%=build/fuzz/%.o)
# objects instrumented for coverage (fuzzer-no-link); libFuzzer's main()
# comes in at the link
# (-Wno-format-nonliteral: clang, unlike gcc, flags the v*printf wrappers)
FUZZ_SANITIZE	 = address,undefined -fno-sanitize-recover=undefined
$(FUZZ_OBJS): build/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CPPFLAGS) $(PATH_DEFS) $(CPPFLAGS) -Itest/fuzz \
	    -std=gnu11 $(WARNINGS) -O1 -g -Wno-format-nonliteral \
	    -fsanitize=fuzzer-no-link,$(FUZZ_SANITIZE) $(DEPFLAGS) -c -o $@ $<
$(FUZZ_BINS): test/fuzz/fuzz_%: build/fuzz/test/fuzz/fuzz_%.o $(FUZZ_LIBOBJS)
	$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $< \
	    $(FUZZ_LIBOBJS) $(TLS_LIBS) $(BSD_LIBS)

fuzz-deps:
	@PKGS="clang libclang-rt-dev" sh test/deps.sh

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
docker-test: deps all test/smtpd
	@PKGS="podman runc debootstrap" sh test/deps.sh
	@bash test/docker.sh
	@RELAYQ_DOCKER_DEBIAN=13 bash test/docker.sh

# the README's make demo and make check, the -Werror builds and make
# interop on a fresh Debian 13 (mbedTLS 3.6) or 12 minbase root, cached
# (root only; see test/trixie.sh)
check-trixie:
	@PKGS="debootstrap" sh test/deps.sh
	@bash test/trixie.sh

check-bookworm:
	@PKGS="debootstrap" sh test/deps.sh
	@RELAYQ_MINBASE_SUITE=bookworm bash test/trixie.sh

bench: deps all test/smtpd
	@bash test/bench.sh

# every manual page mandoc-clean, style messages included; run inside doc/
# so that .Xr references between our pages resolve.  Then the C static
# analysis (test/lint_c.sh), the header dependencies of every binary
# (test/lint_headers.sh) and make layering's reporter (test/lint_layering.sh).
lint: deps
	@PKGS="cppcheck" sh test/deps.sh
	@cd doc && out=$$(mandoc -Tlint -Wstyle *.[1-9] 2>&1); st=$$?; \
	    if [ -n "$$out" ] || [ $$st -ne 0 ]; then echo "$$out"; exit 1; fi; \
	    echo "mandoc -Tlint -Wstyle: $$(ls *.[1-9] | wc -l) pages clean"
	@sh test/lint_c.sh
	@sh test/lint_headers.sh
	@sh test/lint_layering.sh

# A report: cycles between src/ files and the daemon's exported mutable
# variables, from nm (test/layering.sh); exit 1 when there is any.
# make lint checks the reporter itself, then gates LAYERING_SRCS on it.
layering: $(RELAYQ_OBJS) $(COMMON_OBJS) $(SENDMAIL_OBJS)
	@sh test/layering.sh $(RELAYQ_OBJS) $(COMMON_OBJS) -- \
	    $(sort $(RELAYQ_OBJS) $(COMMON_OBJS) $(SENDMAIL_OBJS))

# make lint's gate (test/lint_layering.sh): no cycle between these files
# and no exported mutable variable in them: every source of both programs.
LAYERING_SRCS	 = $(sort $(COMMON_SRCS) $(SENDMAIL_SRCS) $(RELAYQ_SRCS))

# the Debian package, from contrib/debian; see contrib/debian/mkdeb.sh
deb:
	@sh contrib/debian/mkdeb.sh

install: all
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" \
	    SPOOLDIR="$(SPOOLDIR)" SBINDIR="$(SBINDIR)" MANDIR="$(MANDIR)" \
	    FORCE="$(FORCE)" \
	    sh contrib/install.sh

# what install put there; the configuration, the spool and the user stay
uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" \
	    SPOOLDIR="$(SPOOLDIR)" SBINDIR="$(SBINDIR)" MANDIR="$(MANDIR)" \
	    sh contrib/uninstall.sh

clean:
	rm -f sendmail relayq src/*.o test/unit test/smtpd test/sendmail-sgid \
	    test/fakedns.so test/relayq-crash test/sendmail-crash \
	    test/nosandbox .flags $(FUZZ_BINS)
	rm -f src/*.d $(UNIT_OBJS) $(UNIT_OBJS:.o=.d)
	rm -rf build
	rm -f test/listen_probe

.PHONY: all check demo interop bench install clean deps lint deb FORCE fuzz \
	fuzz-deps docker-test layering uninstall check-trixie check-bookworm

# --- every object: rebuilt when the flags change, and when a header it
# includes does (the .d files its compilation wrote; none before the
# first build, when everything is built anyway)
ALL_OBJS	 = $(COMMON_OBJS) $(SENDMAIL_OBJS) $(RELAYQ_OBJS) $(UNIT_OBJS) \
		   $(SGID_OBJS) $(CRASH_OBJS) $(FUZZ_OBJS)
$(ALL_OBJS) test/unit test/smtpd test/nosandbox: .flags
-include $(ALL_OBJS:.o=.d)
