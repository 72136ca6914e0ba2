#!/usr/bin/env bash
# List the test points that pass in BASELINE but do not pass in RESULTS.
#
#   tests/conformance/compare.sh BASELINE RESULTS
#
# Both files are results.tsv files written by run.sh:
#   program TAB N TAB ok|not ok|skip TAB description
#
# Test points are matched by program and description, not by number: the
# runtimetest helper walks Go maps (default devices, symlinks, sysctls ...), so
# the same check gets a different number from one run to the next. Several
# points of a program can share a description (a loop over cgroup settings,
# for instance); they are compared as a count: if BASELINE has k passing points
# "program: description" and RESULTS has j < k, that is k-j regressions.
# run.sh's program-level point (N=0) is matched by program alone. UUIDs and
# runs of 6 or more digits (temporary names such as /tmp/ocitest3632332344)
# are blanked out of descriptions before matching.
#
# Points listed in flaky.txt beside this script (or in $CONFORMANCE_FLAKY),
# lines "program<TAB>description<TAB>reason", are reported but not counted.
#
# Regressions are grouped by program, at most 12 lines each unless
# CONFORMANCE_COMPARE_ALL=1 (a program that aborts early loses hundreds).
#
# Exit status: 1 if there is any regression, 0 otherwise, 2 on usage errors.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 BASELINE RESULTS" >&2
	exit 2
fi
BASELINE=$1
RESULTS=$2
FLAKY=${CONFORMANCE_FLAKY:-$(dirname -- "$(readlink -f -- "$0")")/flaky.txt}
for f in "$BASELINE" "$RESULTS"; do
	[[ -r $f ]] || { echo "compare.sh: cannot read $f" >&2; exit 2; }
done
[[ -r $FLAKY ]] || FLAKY=/dev/null

awk -F'\t' -v flakyfile="$FLAKY" -v showall="${CONFORMANCE_COMPARE_ALL:-}" -v maxlines=12 '
function norm(prog, n, desc) {
	if (n == "0") return prog SUBSEP "(program-level result)"
	gsub(/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]/, "<uuid>", desc)
	gsub(/[0-9][0-9][0-9][0-9][0-9][0-9]+/, "<N>", desc) # temp names: ocitest123456789, /target3691500655
	sub(/[ \t]+$/, "", desc)
	return prog SUBSEP desc
}
BEGIN {
	while ((getline line < flakyfile) > 0) {
		if (line ~ /^[ \t]*(#|$)/) continue
		split(line, f, "\t")
		flaky[norm(f[1], "", f[2])] = f[3]
	}
}
FNR == 1 { file++ }
NF < 3 { next }
{
	k = norm($1, $2, $4)
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
}
file == 1 {
	btotal++
	if ($3 == "ok") { bok[k]++; bpass++ }
	next
}
file == 2 {
	rtotal++
	if ($2 == "0") rdescr[k] = $4
	if ($3 == "ok") { rok[k]++; rpass++ }
	else rbad[k] = rbad[k] (rbad[k] == "" ? "" : ",") ($3 == "not ok" ? "not-ok" : $3)
	if (!(k in inres)) inres[k] = 1
}
END {
	for (i = 1; i <= nk; i++) {
		k = order[i]
		d = bok[k] - rok[k]
		if (d <= 0) { if (d < 0) fixed -= d; continue }
		split(k, p, SUBSEP)
		status = (k in inres) ? (rbad[k] == "" ? "?" : rbad[k]) : "missing"
		line = sprintf("%s\t%s\t%s%s", p[1], status, p[2], d > 1 ? sprintf(" (x%d)", d) : "")
		if (k in flaky) { flk[++nf] = line "\t[flaky: " flaky[k] "]"; nfl += d }
		else {
			if (!(p[1] in pcount)) porder[++np] = p[1]
			pcount[p[1]] += d; plines[p[1]] = plines[p[1]] "\n  " line; pn[p[1]]++
			nreg += d
		}
	}
	if (np > 0) {
		print "REGRESSIONS: pass in baseline, not in results (program, status in results, description):"
		for (i = 1; i <= np; i++) {
			prog = porder[i]
			note = ""
			if ((prog SUBSEP "(program-level result)") in rdescr) note = "; " rdescr[prog SUBSEP "(program-level result)"]
			printf "%s: %d regression(s)%s\n", prog, pcount[prog], note
			n = split(substr(plines[prog], 2), ls, "\n")
			for (j = 1; j <= n && (showall || j <= maxlines); j++) print ls[j]
			if (n > maxlines && !showall) printf "  ... and %d more (CONFORMANCE_COMPARE_ALL=1 lists them)\n", n - maxlines
		}
	}
	if (nf > 0) {
		print "known flaky, not counted:"
		for (i = 1; i <= nf; i++) print "  " flk[i]
	}
	printf "baseline: %d points, %d passing; results: %d points, %d passing\n", btotal, bpass, rtotal, rpass
	printf "regressions: %d; flaky ignored: %d; newly passing: %d\n", nreg + 0, nfl + 0, fixed + 0
	exit nreg > 0 ? 1 : 0
}' "$BASELINE" "$RESULTS"
