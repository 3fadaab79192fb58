#!/bin/sh
# make layering: report how src/ files depend on each other, from nm(1)
# on their objects.
#
#	layering.sh [-d DAEMON_OBJ...] -- OBJ...
#
# - cycles: file A uses a symbol defined in file B, and B (perhaps
#   through others) one defined in A.  Each group of files that call
#   each other in a circle is printed with the calls that close it.
# - the daemon's exported mutable variables: symbols of type B, C, D, G
#   or S (bss, common, data) that a DAEMON_OBJ exports, i.e. state shared
#   between files instead of passed explicitly.
#
# Exit 1 when there is any; the goal is none of either (see
# doc/HACKING.md: not part of CI's pass/fail until the daemon refactor).
export LC_ALL=C
daemon=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	[ "$1" = -d ] || daemon="$daemon $1"
	shift
done
[ "$1" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: layering.sh [-d DAEMON_OBJ...] -- OBJ..."; exit 2; }
for o in "$@" $daemon; do
	[ -f "$o" ] || { echo "layering: $o: no such object (make first)"; exit 2; }
done

# "object type symbol" for every symbol defined or used
for o in "$@"; do
	nm "$o" | awk -v o="$o" 'NF == 3 { print o, $2, $3 }
	    NF == 2 { print o, $1, $2 }'
done | awk '
	function base(p) { sub(/^.*\//, "", p); sub(/\.o$/, ".c", p); return p }
	$2 == "U" { use[++nu] = base($1) " " $3; next }
	$2 ~ /^[A-Z]$/ { def[$3] = base($1); files[base($1)] = 1 }
	END {
		for (i = 1; i <= nu; i++) {
			split(use[i], u, " ")
			if (!(u[2] in def) || def[u[2]] == u[1])
				continue
			reach[u[1], def[u[2]]] = 1
			via[u[1], def[u[2]]] = via[u[1], def[u[2]]] \
			    (via[u[1], def[u[2]]] == "" ? "" : " ") u[2]
		}
		n = 0
		for (f in files) {	# sorted, for a stable report
			for (i = ++n; i > 1 && name[i - 1] > f; i--)
				name[i] = name[i - 1]
			name[i] = f
		}
		# transitive closure (a few dozen files: n^3 is nothing)
		for (k = 1; k <= n; k++)
			for (i = 1; i <= n; i++) {
				if (!((name[i], name[k]) in reach))
					continue
				for (j = 1; j <= n; j++)
					if ((name[k], name[j]) in reach)
						reach[name[i], name[j]] = 1
			}
		ncyc = 0
		for (i = 1; i <= n; i++) {
			if (name[i] in done || !((name[i], name[i]) in reach))
				continue
			grp = ""
			for (j = 1; j <= n; j++)
				if ((name[i], name[j]) in reach &&
				    (name[j], name[i]) in reach) {
					done[name[j]] = 1
					grp = grp " " name[j]
				}
			cyc[++ncyc] = grp
		}
		print "layering: " ncyc " cycle(s) between src/ files"
		for (c = 1; c <= ncyc; c++) {
			print "  cycle:" cyc[c]
			k = split(cyc[c], m, " ")
			for (i = 1; i <= k; i++)
				for (j = 1; j <= k; j++)
					if ((m[i], m[j]) in via)
						print "    " m[i] " -> " m[j] \
						    ": " via[m[i], m[j]]
		}
		exit ncyc > 0
	}'
cycles=$?

# the daemon's exported mutable variables
vars=$(for o in $daemon; do
	nm --defined-only "$o" | awk -v o="$o" '$2 ~ /^[BCDGS]$/ {
	    sub(/^.*\//, "", o); sub(/\.o$/, ".c", o); print "  " o ": " $3 }'
done)
echo "layering: $(echo "$vars" | grep -c .) exported mutable variable(s)" \
    "in the daemon"
[ -n "$vars" ] && echo "$vars"
[ $cycles = 0 ] && [ -z "$vars" ]
