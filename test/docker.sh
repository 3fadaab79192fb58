#!/bin/bash
#
# docker.sh - build contrib/docker/Dockerfile.debian for real and run the
# image the way contrib/docker/README.md documents it.  Run by
# `make docker-test' as root (CI), from the top of the repository.
#
# No Docker engine and no registry: podman (Debian's package) builds and
# runs the containers, with its own configuration and storage in a private
# temp dir, so no image, container or volume of anyone else on the machine
# is seen or touched (only podman's blob-info cache, a small index of no
# image data, always goes to /var/lib/containers/cache).  The FROM image,
# debian:12-slim, is made locally: debootstrap --variant=minbase bookworm
# from the Debian mirror this machine's apt uses, imported under the name
# the Dockerfile gives, and built with --pull=never, so nothing is pulled
# from a registry.  The tarball is cached in $RELAYQ_DOCKER_CACHE (default
# /var/cache/relayq-docker) for 7 days.  The build's apt-get fetches from
# that mirror too.
#
# Then, against the project's test smarthost (test/smtpd, TLS + AUTH, the
# test CA) on loopback, with host networking so only loopback is used:
#   1. the daemon container: arbitrary uid 4242 (no passwd entry) with
#      --group-add 0, read-only root, configuration from RELAYQ_* only,
#      the secret a mounted file, the spool a named volume, logs on stderr;
#   2. an "app container": an image built FROM debian:12-slim with the one
#      documented line COPY --from=<relayq image> /usr/sbin/sendmail ...,
#      run with the same uid, the spool volume and no network, submits
#      with `sendmail -t -i';
#   3. `podman exec -i CONTAINER sendmail -t' (the host's cron);
#   4. the SMTP sidecar of compose.yaml and k8s-pod.yaml: `relayq smtpd'
#      in a container of its own with the spool volume and no secret, and
#      an application container that sends to it over SMTP;
# and checks what the smarthost received and what the daemon logged, and
# that it stops on SIGTERM with exit 0.
#
# Output: `ok - NAME' / `not ok - NAME: DETAILS', then `N passed, N failed';
# exit 1 on any failure.  Not root, or podman unusable: `not ok' with the
# reason and exit 1 -- this test never passes by skipping.
# Environment: RELAYQ_DOCKER_CACHE (cache dir), RELAYQ_DEBIAN_MIRROR (URI
# to use instead of the one from /etc/apt), RELAYQ_DOCKER_DEBIAN=13 (all
# of the above on debian:13-slim, trixie, built with --build-arg
# DEBIAN=13; `make docker-test' runs both).

cd "$(dirname "$0")/.." || exit 1
# RELAYQ_* from outside would configure the programs under test
while read -r v; do unset "$v"; done < <(compgen -e | grep '^RELAYQ_[A-Z_]*$' |
    grep -v -e '^RELAYQ_DOCKER_CACHE$' -e '^RELAYQ_DEBIAN_MIRROR$' \
    -e '^RELAYQ_DOCKER_DEBIAN$')
. test/lib.sh

# RELAYQ_DOCKER_DEBIAN=13: the same on Debian 13 (--build-arg DEBIAN=13)
DEBIAN=${RELAYQ_DOCKER_DEBIAN:-12}
case $DEBIAN in
12) SUITE=bookworm ;;
13) SUITE=trixie ;;
*) echo "RELAYQ_DOCKER_DEBIAN: 12 or 13, not $DEBIAN"; exit 1 ;;
esac
CACHE=${RELAYQ_DOCKER_CACHE:-/var/cache/relayq-docker}
BASE=docker.io/library/debian:$DEBIAN-slim	# what Dockerfile.debian's FROM names
TAG=$$					# names of everything we create
IMAGE=localhost/relayq-test:$TAG
APPIMAGE=localhost/relayq-test-app:$TAG
VOLUME=relayq-test-spool-$TAG
CUID=4242
PM=$WORK/podman
CIDS=()
IMAGES=()

# Everything podman creates lives in $PM; removed by id even on failure,
# then the directory goes with $WORK.
docker_cleanup() {
	local id
	# not yet pointed at our storage: we have made nothing there
	[ "${CONTAINERS_STORAGE_CONF:-}" = "$PM/storage.conf" ] || return 0
	for id in "${CIDS[@]}"; do timeout 60 podman rm -f -t 0 "$id" >/dev/null 2>&1; done
	timeout 60 podman volume rm -f "$VOLUME" >/dev/null 2>&1
	for id in "${IMAGES[@]}"; do timeout 60 podman rmi -f "$id" >/dev/null 2>&1; done
	# build layers and the imported base, all in our private storage
	[ -d "$PM/storage" ] && timeout 120 podman rmi -a -f >/dev/null 2>&1
	# nothing of ours may stay mounted when $WORK is removed
	findmnt -rn -o TARGET | grep "^$PM/" | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}
trap 'docker_cleanup; cleanup' EXIT

# podman with stdout and stderr in $T/podman.out, bounded in time
pm() { timeout "$1" podman "${@:2}" >>"$T/podman.out" 2>&1; }
fail_setup() { not_ok "docker: $1" "$2"; summary; exit 1; }

new_env docker
if [ "$(id -u)" != 0 ]; then
	echo "# SKIPPED, NOT PASSED: the container test needs root (podman," \
	    "debootstrap); run it as root: make docker-test"
	fail_setup "run as root" "skipped: not root"
fi
for c in podman runc debootstrap; do
	command -v $c >/dev/null || fail_setup "$c installed" \
	    "apt-get install -y podman runc debootstrap (make docker-test does)"
done

# Private podman configuration.  runc, not crun: crun refuses hybrid
# cgroup v1/v2 hosts such as this CI VM.  Explicit rlimits no higher
# than ours: podman's default for root (1048576) needs CAP_SYS_RESOURCE,
# which a container-hosting VM may not give.  cgroupfs and a file event
# log: no systemd here.
mkdir -p "$PM" || fail_setup "temp dir" "$PM"
# overlay when the kernel has it and $PM is not itself on overlayfs
# (a container's root); vfs, slow but universal, otherwise
driver=vfs
grep -qw overlay /proc/filesystems &&
    [ "$(stat -f -c %T "$PM")" != overlayfs ] && driver=overlay
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 4096 ] && nofile=4096
cat > "$PM/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=1024:1024"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
cat > "$PM/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$PM/storage"
runroot = "$PM/run"
EOF
cat > "$PM/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
export CONTAINERS_CONF=$PM/containers.conf
export CONTAINERS_STORAGE_CONF=$PM/storage.conf
export CONTAINERS_REGISTRIES_CONF=$PM/registries.conf
echo "# podman $(podman version -f '{{.Client.Version}}' 2>/dev/null), storage $driver, runtime runc"

# --- the base image ----------------------------------------------------

# mirror_of SUITE: the first URI apt uses for a "deb" source of SUITE with
# component main, from the one-line (.list) and deb822 (.sources) lists
mirror_of() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) awk -v suite="$1" "$MIRROR_DEB822" "$f" ;;
		*) awk -v suite="$1" "$MIRROR_LIST" "$f" ;;
		esac
	done | head -1
}
# deb [opts] URI SUITE COMPONENT...
MIRROR_LIST='
$1 == "deb" {
	sub(/^deb[ \t]+(\[[^]]*\][ \t]+)?/, "")
	if ($2 == suite) for (i = 3; i <= NF; i++) if ($i == "main") { print $1; exit }
}'
# paragraphs of "Field: value" lines
MIRROR_DEB822='
function inlist(s, v,   a, n, i) {
	n = split(s, a, " "); for (i = 1; i <= n; i++) if (a[i] == v) return 1
	return 0
}
function para(   u) {
	if (inlist(f["types"], "deb") && inlist(f["suites"], suite) &&
	    inlist(f["components"], "main")) {
		split(f["uris"], u, " "); print u[1]; found = 1; exit
	}
	split("", f)
}
/^[ \t]*#/ { next }
NF == 0 { para(); next }
/^[A-Za-z-]+:/ { k = tolower($1); sub(/:$/, "", k); $1 = ""; f[k] = $0 }
END { if (!found) para() }'

# another release than the host's: from the mirrors the host's uses
HOSTSUITE=$(. /etc/os-release && echo "$VERSION_CODENAME")
MIRROR=${RELAYQ_DEBIAN_MIRROR:-$(mirror_of $SUITE)}
MIRROR=${MIRROR:-$(mirror_of "$HOSTSUITE")}
SECURITY=$(mirror_of $SUITE-security)
SECURITY=${SECURITY:-$(mirror_of "$HOSTSUITE-security")}
[ -n "$MIRROR" ] || fail_setup "Debian mirror" "no 'deb ... $SUITE main' in /etc/apt/sources.list*; set RELAYQ_DEBIAN_MIRROR"
TARBALL=$CACHE/debian-$SUITE-minbase.tar
echo "# mirror $MIRROR${SECURITY:+, security $SECURITY}; cache $TARBALL"

# make_base: debootstrap the tarball, unless the cache has one made from
# the same mirrors less than 7 days ago.  Locked: two runs at once share it.
make_base() {
	local root=$WORK/rootfs stamp="$MIRROR $SECURITY"
	mkdir -p "$CACHE" || return 1
	exec 9>"$CACHE/lock"
	flock -w 900 9 || { echo "cache $CACHE locked for 15 minutes"; return 1; }
	if [ -s "$TARBALL" ] && [ "$(cat "$TARBALL.from" 2>/dev/null)" = "$stamp" ] &&
	    [ -n "$(find "$TARBALL" -mtime -7)" ]; then
		echo "# base: cached $(date -r "$TARBALL" -u +%FT%TZ)"
		return 0
	fi
	echo "# base: debootstrap --variant=minbase $SUITE $MIRROR"
	timeout 900 debootstrap --variant=minbase $SUITE "$root" "$MIRROR" \
	    >"$T/debootstrap.log" 2>&1 || { tail -5 "$T/debootstrap.log"; return 1; }
	# apt sources as in the official image; lists and caches out, as there
	rm -f "$root/etc/apt/sources.list"
	{
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\n' "$MIRROR" $SUITE $SUITE
		printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		[ -n "$SECURITY" ] && printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\n%s\n%s\n' \
		    "$SECURITY" $SUITE 'Components: main' \
		    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
	} > "$root/etc/apt/sources.list.d/debian.sources"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
	    "$root"/var/cache/apt/archives/*.deb
	tar --numeric-owner -C "$root" -cf "$TARBALL.tmp" . &&
	    echo "$stamp" > "$TARBALL.from" && mv "$TARBALL.tmp" "$TARBALL" ||
	    { rm -f "$TARBALL.tmp"; return 1; }
	rm -rf "$root"
}

t0=$(date +%s)
make_base || fail_setup "base image $BASE" "debootstrap failed; see above"
exec 9>&-
check "docker: debian:$DEBIAN-slim imported from the local debootstrap tarball" \
    pm 120 import --change 'CMD ["bash"]' "$TARBALL" "$BASE"
IMAGES+=("$BASE")
t1=$(date +%s)

# --- build -------------------------------------------------------------

# --pull=never: the FROM image must be the one just imported.
# --isolation chroot: RUN needs no OCI runtime, cgroups or namespaces
# beyond chroot; --network host: apt-get reaches the mirror.
if timeout 900 podman build --pull=never --isolation chroot --network host \
    --build-arg DEBIAN=$DEBIAN \
    -f contrib/docker/Dockerfile.debian -t "$IMAGE" . >"$T/build.log" 2>&1; then
	ok "docker: Dockerfile.debian builds"
else
	not_ok "docker: Dockerfile.debian builds" "see below"
	tail -30 "$T/build.log" | sed 's/^/# /'
	summary; exit 1
fi
IMAGES+=("$IMAGE")
t2=$(date +%s)
check "docker: the image build compiled relayq itself" \
    grep -q -e '-c -o src/drain.o src/drain.c' "$T/build.log"
check "docker: no compiler warnings in the image build" \
    sh -c "! grep -E '^[^ ]+\.[ch]:[0-9]+:[0-9]+: (warning|error):' '$T/build.log'"
check "docker: the image runs as uid 10001 by default" \
    test "$(podman image inspect -f '{{.Config.User}}' "$IMAGE" 2>&1)" = 10001
check "docker: the image's spool is a volume" \
    sh -c "podman image inspect -f '{{.Config.Volumes}}' '$IMAGE' | grep -q /var/spool/relayq"

# The app image: the one line of the README in an application's Dockerfile.
mkdir -p "$T/app"
printf 'FROM %s\nCOPY --from=%s /usr/sbin/sendmail /usr/sbin/sendmail\n' \
    "$BASE" "$IMAGE" > "$T/app/Dockerfile"
if pm 300 build --pull=never --isolation chroot -t "$APPIMAGE" "$T/app"; then
	ok "docker: an app image takes sendmail with one COPY --from line"
	IMAGES+=("$APPIMAGE")
else
	not_ok "docker: an app image takes sendmail with one COPY --from line" "$(tail -3 "$T/podman.out")"
fi

# --- run, as documented --------------------------------------------------

start_smtpd || fail_setup "test smarthost" "see $T/smtpd.err"
mkdir -p "$T/secrets"
echo secret > "$T/secrets/relayq"
chown $CUID "$T/secrets/relayq"
chmod 600 "$T/secrets/relayq"
# the documented `docker run', plus what a test on loopback needs:
# --network host (the smarthost is on 127.0.0.1), the test CA, fast retry;
# and --passwd=false: podman, unlike Docker, would add a passwd entry
# named "4242" for the uid
cid=$(timeout 60 podman run -d --name "relayq-test-$TAG" --user $CUID --group-add 0 \
    --passwd=false \
    --read-only --read-only-tmpfs=false --network host \
    -e RELAYQ_SMARTHOST=localhost:$PORT \
    -e RELAYQ_AUTH_USER=user \
    -e RELAYQ_AUTH_PASSWORD_FILE=/run/secrets/relayq \
    -e RELAYQ_DOMAIN=app.example.org \
    -e RELAYQ_TLS_CA_FILE=/run/secrets/ca.pem -e RELAYQ_RETRY_MIN=1s \
    -v "$VOLUME:/var/spool/relayq" \
    -v "$T/secrets/relayq:/run/secrets/relayq:ro" \
    -v "$CERTS/ca.pem:/run/secrets/ca.pem:ro" \
    "$IMAGE" 2>"$T/run.err") && [ -n "$cid" ] && CIDS+=("$cid") ||
    fail_setup "daemon container starts" "$(cat "$T/run.err")"
dlog() { timeout 30 podman logs "$cid" >"$T/daemon.err" 2>&1; grep -q "$@" "$T/daemon.err"; }
check "docker: daemon container starts from RELAYQ_* and the secret file" \
    wait_for 30 dlog 'started: relayq'
check "docker: daemon runs as uid $CUID in group 0, not root" \
    sh -c "[ \"\$(timeout 30 podman exec '$cid' id)\" = 'uid=$CUID gid=0(root) groups=0(root)' ]"

msg='To: ops@example.net\nSubject: from the app container\n\nhello\n'
out=$(printf "$msg" | timeout 60 podman run --rm -i --user $CUID --passwd=false --network none \
    -e RELAYQ_DOMAIN=app.example.org -v "$VOLUME:/var/spool/relayq" \
    "$APPIMAGE" /usr/sbin/sendmail -t -i 2>&1); rc=$?
check "docker: app container's sendmail -t -i exits 0 (no network, no setgid)" test $rc -eq 0
check "docker: app container's sendmail prints nothing" test -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'
check "docker: smarthost received the app container's message" \
    wait_for 30 test -s "$T/mail/1.env"
check "docker: envelope sender uid$CUID@app.example.org (uid without passwd entry)" \
    grep -qx "mail=MAIL FROM:<uid$CUID@app.example.org> SIZE=[0-9]*" "$T/mail/1.env"
check "docker: smarthost got the body" grep -q '^hello' "$T/mail/1.msg"
check "docker: daemon logged status=sent on stderr" \
    wait_for 10 dlog 'to=<ops@example.net>, .*status=sent'

out=$(printf 'To: cron@example.net\nSubject: from the host\n\nvia exec\n' |
    timeout 60 podman exec -i "$cid" sendmail -t 2>&1); rc=$?
check "docker: podman exec -i CONTAINER sendmail -t exits 0, silent" \
    test $rc -eq 0 -a -z "$out"
check "docker: smarthost received the exec'd message" \
    wait_for 30 grep -q 'cron@example.net' "$T/mail/2.env"
check "docker: daemon logged it sent" \
    wait_for 10 dlog 'to=<cron@example.net>, .*status=sent'
check "docker: the secret is not in the log" sh -c "! grep -q secret '$T/daemon.err'"

# The SMTP sidecar of compose.yaml and k8s-pod.yaml: the listener in a
# container of its own (same image, entry point `relayq smtpd' as both
# files and README.md here give it, no secret, only the spool volume), and
# an application container that speaks SMTP to it.
# Host networking stands for the pod's shared network namespace, so the
# client comes from loopback, as in k8s-pod.yaml.  The client is bash's
# /dev/tcp (the app image has nothing else), checking every reply code.
LPORT=$(free_port)
lid=$(timeout 60 podman run -d --name "relayq-smtp-test-$TAG" --user $CUID \
    --group-add 0 --passwd=false --read-only --read-only-tmpfs=false \
    --network host -e RELAYQ_LISTEN=127.0.0.1:$LPORT \
    -e RELAYQ_DOMAIN=app.example.org -v "$VOLUME:/var/spool/relayq" \
    --entrypoint /usr/sbin/relayq "$IMAGE" smtpd 2>"$T/run-smtpd.err") &&
    [ -n "$lid" ] &&
    CIDS+=("$lid")
llog() { timeout 30 podman logs "$lid" >"$T/smtpd.err" 2>&1; grep -q "$@" "$T/smtpd.err"; }
check "docker: listener container starts (relayq smtpd, no secret)" \
    wait_for 30 llog 'smtpd: started'
cat > "$T/smtp-client.sh" <<'EOF'
exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
# expect CODE: read one reply, multi-line included; succeed on CODE
expect() {
	local l
	while IFS= read -r -t 10 l <&3; do
		l=${l%$'\r'}
		echo "S: $l"
		case $l in "$1-"*) ;; "$1 "*) return 0 ;; *) return 1 ;; esac
	done
	return 1
}
say() { printf '%s\r\n' "$1" >&3; echo "C: $1"; }
expect 220 && say "EHLO app.example.org" && expect 250 &&
    say "MAIL FROM:<app@example.org>" && expect 250 &&
    say "RCPT TO:<sidecar@example.net>" && expect 250 &&
    say DATA && expect 354 &&
    printf 'Subject: via the listener container\r\n\r\nhello over SMTP\r\n.\r\n' >&3 &&
    expect 250 && say QUIT && expect 221
EOF
timeout 60 podman run --rm -i --user $CUID --passwd=false --network host \
    "$APPIMAGE" bash -s "$LPORT" < "$T/smtp-client.sh" > "$T/smtp-client.out" 2>&1
check "docker: an app container's SMTP session with the listener container ends in 221" \
    test $? -eq 0
check "docker: ... its message was queued (250 with a queue id)" \
    grep -q '^S: 250 2\.0\.0 Ok: queued as ' "$T/smtp-client.out"
sidecar_env() { grep -l 'sidecar@example.net' "$T"/mail/*.env 2>/dev/null | head -1; }
check "docker: smarthost received the sidecar's message" \
    wait_for 30 sh -c "grep -q 'sidecar@example.net' '$T'/mail/*.env"
f=$(sidecar_env)
check "docker: ... with the listener's Received field for the client" \
    grep -q '^Received: from app.example.org (\[127\.0\.0\.1\])' "${f%.env}.msg"
check "docker: daemon logged the sidecar's message sent" \
    wait_for 10 dlog 'to=<sidecar@example.net>, .*status=sent'
pm 60 stop -t 20 "$lid"
check "docker: listener container exits 0 on SIGTERM" \
    test "$(timeout 30 podman inspect -f '{{.State.ExitCode}}' "$lid" 2>&1)" = 0

pm 60 stop -t 20 "$cid"
check "docker: daemon stops on SIGTERM and says so" dlog 'stopping'
check "docker: daemon container exits 0" \
    test "$(timeout 30 podman inspect -f '{{.State.ExitCode}}' "$cid" 2>&1)" = 0
# A secret the uid does not own (as `docker cp' or a careless mount
# leaves it) is refused, and the log says what to run.
echo secret > "$T/secrets/bad"
chmod 644 "$T/secrets/bad"
out=$(timeout 60 podman run --rm --user $CUID --group-add 0 --passwd=false \
    --network none -e RELAYQ_SMARTHOST=localhost:$PORT -e RELAYQ_AUTH_USER=user \
    -e RELAYQ_AUTH_PASSWORD_FILE=/run/secrets/relayq -v "$VOLUME:/var/spool/relayq" \
    -v "$T/secrets/bad:/run/secrets/relayq:ro" "$IMAGE" 2>&1); rc=$?
check "docker: a secret not owned by the uid: the daemon exits non-zero" \
    test $rc -ne 0 -a $rc -lt 125
check "docker: ... and says which chown and chmod to run" grep -q \
    "must be owned by $CUID, the user the daemon runs as, .*chown $CUID:[^ ]* /run/secrets/relayq; chmod 600" <<<"$out"
t3=$(date +%s)
echo "# times: base image $((t1 - t0)) s, build $((t2 - t1)) s, run $((t3 - t2)) s"
if [ "$FAIL" -ne 0 ]; then
	sed 's/^/# daemon: /' "$T/daemon.err"
	sed 's/^/# listener: /' "$T/smtpd.err" 2>/dev/null
	sed 's/^/# smtp client: /' "$T/smtp-client.out" 2>/dev/null
	for f in "$T"/mail/*.env; do sed "s|^|# ${f#$T/}: |" "$f"; done
fi
summary
