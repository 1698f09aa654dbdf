#!/bin/bash
# t201-tokens.sh -- the gate from the command line, with TOLLGATE_NOW (no sleeping):
# a week of tier-link rotation seen through `tollgate links --format json` (Wednesday:
# one link; Sunday inside the overlap: both; Monday 00:00:00: the new one is current,
# the old one gone), text and Markdown output, `token rotate` (refused without --now,
# then new tokens), named tokens create/list/revoke in JSON, grant config errors with
# file:line, and tokens absent from every log (stderr of each command, the server log).
source "$(dirname "$0")/lib.sh"

for c in links token; do
    out=$("$TG" $c --help 2>&1); rc=$?
    check_eq "'tollgate $c --help' exits 0" 0 "$rc"
    check_contains "'tollgate $c --help' shows usage" "usage: tollgate $c" "$out"
done

tg_init "$T/data"
check_contains "init writes commented example grants" ";[grant tier3]" "$(cat "$CONF")"
out=$("$TG" links --config "$CONF" 2>&1); rc=$?
check_eq "links without grants fails" 1 "$rc"
check_contains "links without grants says why" "no [grant NAME] section" "$out"

cat >>"$CONF" <<'EOF'

[grant tier1]
title = Tier 1
prefix = tier1/

[grant tier2]
title = Tier 2 — full daily dataset
prefix = tier2/ shared/
rotation = 7d @ 1970-01-05T00:00:00Z
overlap = 24h
link_ttl = 6d20h

[grant half]
prefix = half/
rotation = 3.5d @ 2026-01-05T00:00:00Z
overlap = 12h
EOF

ERRS="$T/stderr.log" # every command's stderr, grepped for tokens at the end
: >"$ERRS"
# links_at INSTANT [args...]: `tollgate links --format json` at INSTANT
links_at() {
    local at=$1
    shift
    TOLLGATE_NOW=$at "$TG" links --config "$CONF" --format json "$@" 2>>"$ERRS"
}
# jq-free JSON field access: jget JSON PYTHON-EXPR (j is the parsed document)
jget() { /usr/bin/python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

WED=$(links_at 2026-02-11T12:00:00Z)
check_eq "links: every grant, in config order" "tier1 tier2 half" "$(jget "$WED" '" ".join(g["grant"] for g in j)')"
check_eq "links JSON has the documented fields" "current grant next|token url valid_until" \
    "$(jget "$WED" '" ".join(sorted(j[1])) + "|" + " ".join(sorted(j[1]["current"]))')"
check_eq "Wednesday: no next link" "None" "$(jget "$WED" 'j[1]["next"]')"
check_eq "Wednesday: valid until Monday 00:00 UTC" "2026-02-16T00:00:00Z" "$(jget "$WED" 'j[1]["current"]["valid_until"]')"
CUR=$(jget "$WED" 'j[1]["current"]["token"]')
check "token is 43 base64url characters" bash -c "[[ '$CUR' =~ ^[A-Za-z0-9_-]{43}$ ]]"
check_eq "url is the portal URL of the token" "$URL/downloads/tier2?t=$CUR" "$(jget "$WED" 'j[1]["current"]["url"]')"

SAT=$(links_at 2026-02-14T23:59:59Z tier2)
check_eq "one second before the overlap: still no next" "None" "$(jget "$SAT" 'j[0]["next"]')"
check_eq "links GRANT prints only that grant" "1" "$(jget "$SAT" 'len(j)')"

SUN=$(links_at 2026-02-15T00:00:00Z tier2)
check_eq "Sunday 00:00 (overlap starts): same current token" "$CUR" "$(jget "$SUN" 'j[0]["current"]["token"]')"
NEXT=$(jget "$SUN" 'j[0]["next"]["token"]')
check "Sunday: a next token, different from the current one" test -n "$NEXT" -a "$NEXT" != "$CUR" -a "$NEXT" != None
check_eq "Sunday: next valid_from / required_from" "2026-02-15T00:00:00Z 2026-02-16T00:00:00Z" \
    "$(jget "$SUN" 'j[0]["next"]["valid_from"] + " " + j[0]["next"]["required_from"]')"
check_eq "next has the documented fields" "required_from token url valid_from" "$(jget "$SUN" '" ".join(sorted(j[0]["next"]))')"

SUN2=$(links_at 2026-02-15T23:59:59Z tier2)
check_eq "Sunday 23:59:59: both tokens listed" "$CUR $NEXT" \
    "$(jget "$SUN2" 'j[0]["current"]["token"] + " " + j[0]["next"]["token"]')"

MON=$(links_at 2026-02-16T00:00:00Z tier2)
check_eq "Monday 00:00:00: the new token is current" "$NEXT" "$(jget "$MON" 'j[0]["current"]["token"]')"
check_eq "Monday 00:00:00: no next" "None" "$(jget "$MON" 'j[0]["next"]')"
check "Monday 00:00:00: the old token is gone" bash -c "! grep -q -- '$CUR' <<<'$MON'"
check_eq "Monday: valid until next Monday" "2026-02-23T00:00:00Z" "$(jget "$MON" 'j[0]["current"]["valid_until"]')"

# a 3.5-day period: Monday 00:00 and Thursday 12:00
H1=$(links_at 2026-01-08T11:59:59Z half)
H2=$(links_at 2026-01-08T12:00:00Z half)
check_eq "3.5 d: the period ends Thursday 12:00" "2026-01-08T12:00:00Z" "$(jget "$H1" 'j[0]["current"]["valid_until"]')"
check_eq "3.5 d: 12 h overlap before it" "2026-01-08T00:00:00Z" "$(jget "$H1" 'j[0]["next"]["valid_from"]')"
check_eq "3.5 d: Thursday 12:00 the next is current" "$(jget "$H1" 'j[0]["next"]["token"]')" "$(jget "$H2" 'j[0]["current"]["token"]')"
check_eq "3.5 d: then valid until Monday" "2026-01-12T00:00:00Z" "$(jget "$H2" 'j[0]["current"]["valid_until"]')"

# text and markdown, ready to paste
txt=$(TOLLGATE_NOW=2026-02-15T12:00:00Z "$TG" links --config "$CONF" tier2 2>>"$ERRS")
check_contains "text: title" "Tier 2 — full daily dataset" "$txt"
check_contains "text: current link and its end" "works until Mon 16 Feb 2026 00:00 UTC:
$URL/downloads/tier2?t=$CUR" "$txt"
check_contains "text: next link, from and required" "works from Sun 15 Feb 2026 00:00 UTC and is required from Mon 16 Feb 2026 00:00 UTC:
$URL/downloads/tier2?t=$NEXT" "$txt"
md=$(TOLLGATE_NOW=2026-02-15T12:00:00Z "$TG" links --config "$CONF" tier2 --format markdown 2>>"$ERRS")
check_contains "markdown: a link" "[Download link]($URL/downloads/tier2?t=$CUR)" "$md"
check_contains "markdown: the next link" "[New download link]($URL/downloads/tier2?t=$NEXT)" "$md"
out=$("$TG" links --config "$CONF" tier9 2>&1); rc=$?
check_eq "links of an unknown grant fails" 1 "$rc"
check_contains "and names it" "no grant 'tier9'" "$out"
out=$("$TG" links --config "$CONF" --format xml 2>&1); rc=$?
check_eq "a bad --format is a usage error" 2 "$rc"

# emergency rotation
out=$(TOLLGATE_NOW=2026-02-15T12:00:00Z "$TG" token rotate tier2 --config "$CONF" 2>&1); rc=$?
check_eq "rotate without --now is refused" 2 "$rc"
check_contains "and explains" "with --now" "$out"
check_eq "refused rotate changed nothing" "$CUR" "$(jget "$(links_at 2026-02-15T12:00:00Z tier2)" 'j[0]["current"]["token"]')"
ROT=$(TOLLGATE_NOW=2026-02-15T12:00:00Z "$TG" token rotate tier2 --now --json --config "$CONF" 2>>"$ERRS"); rc=$?
check_eq "rotate --now exits 0" 0 "$rc"
check_eq "rotate bumps the epoch to 1" "1" "$(jget "$ROT" 'j["epoch"]')"
R=$(links_at 2026-02-15T12:00:00Z tier2)
NEWCUR=$(jget "$R" 'j[0]["current"]["token"]')
check_eq "rotate prints the new current link" "$NEWCUR" "$(jget "$ROT" 'j["token"]')"
check "after rotate the current token changed" test "$NEWCUR" != "$CUR"
check "after rotate the next token changed" test "$(jget "$R" 'j[0]["next"]["token"]')" != "$NEXT"
check_eq "rotate leaves other grants alone" "$(jget "$WED" 'j[0]["current"]["token"]')" \
    "$(jget "$(links_at 2026-02-11T12:00:00Z tier1)" 'j[0]["current"]["token"]')"
out=$("$TG" token rotate tier9 --now --config "$CONF" 2>&1); rc=$?
check_eq "rotate of an unknown grant fails" 1 "$rc"

# named tokens
C1=$("$TG" token create tier2 --label community-x --max-uses 5 --max-downloads 3 --expires 30d --json --config "$CONF" 2>>"$ERRS"); rc=$?
check_eq "token create exits 0" 0 "$rc"
check_eq "create JSON has the documented fields" "grant id label token url" "$(jget "$C1" '" ".join(sorted(j))')"
N1=$(jget "$C1" 'j["token"]')
ID1=$(jget "$C1" 'j["id"]')
check_contains "named token format" "tgn_" "$N1"
check_eq "create url" "$URL/downloads/tier2?t=$N1" "$(jget "$C1" 'j["url"]')"
C2=$("$TG" token create tier1 --label "friend of the show" --json --config "$CONF" 2>>"$ERRS")
ID2=$(jget "$C2" 'j["id"]')
N2=$(jget "$C2" 'j["token"]')
txt=$("$TG" token create tier1 --label plain --config "$CONF" 2>>"$ERRS")
check_contains "text create shows the token once, with a warning" "shown this once" "$txt"
N3=$(sed -n 's/^  token  //p' <<<"$txt")

L=$("$TG" token list --json --config "$CONF" 2>>"$ERRS")
check_eq "list JSON has the documented fields" \
    "created_at downloads expires_at grant id label last_used_at max_downloads max_uses status uses" \
    "$(jget "$L" '" ".join(sorted(j[0]))')"
check_eq "list: three tokens, active" "community-x:tier2:active:5:3:0:0 friend of the show:tier1:active:0:0:0:0 plain:tier1:active:0:0:0:0" \
    "$(jget "$L" '" ".join("%s:%s:%s:%d:%d:%d:%d" % (t["label"], t["grant"], t["status"], t["max_uses"], t["max_downloads"], t["uses"], t["downloads"]) for t in j)')"
check_eq "list: expiry 30 d after creation, never used" "True None" \
    "$(jget "$L" 'str(j[0]["expires_at"] > j[0]["created_at"]) + " " + str(j[0]["last_used_at"])')"
check "list never shows a token" bash -c "! grep -q -e '$N1' -e '$N2' -e '$N3' <<<'$L'"
check "the database holds no token in clear" bash -c "! grep -q -a -e '$N1' -e '$N2' -e '$N3' '$DATA/meta.db'"
check "revoke" "$TG" token revoke "$ID2" --config "$CONF"
L=$("$TG" token list --json --config "$CONF" 2>>"$ERRS")
check_eq "revoked token listed as revoked" "active revoked active" "$(jget "$L" '" ".join(t["status"] for t in j)')"
out=$("$TG" token revoke "$ID2" --config "$CONF" 2>&1); rc=$?
check_eq "revoking it again fails" 1 "$rc"
out=$(TOLLGATE_NOW=2030-01-01T00:00:00Z "$TG" token list --json --config "$CONF" 2>>"$ERRS")
check_eq "after 30 days: expired" "expired revoked active" "$(jget "$out" '" ".join(t["status"] for t in j)')"
txt=$("$TG" token list --config "$CONF" 2>>"$ERRS")
check_contains "text list: header" "LABEL" "$txt"
check_contains "text list: uses of max" "0/5" "$txt"
out=$("$TG" token create tier9 --label x --config "$CONF" 2>&1); rc=$?
check_eq "create for an unknown grant fails" 1 "$rc"
out=$("$TG" token create tier1 --config "$CONF" 2>&1); rc=$?
check_eq "create without --label is a usage error" 2 "$rc"
out=$("$TG" token create tier1 --label x --max-uses -3 --config "$CONF" 2>&1); rc=$?
check_eq "a negative limit is a usage error" 2 "$rc"
out=$("$TG" token create tier1 --label x --expires soon --config "$CONF" 2>&1); rc=$?
check_eq "a bad --expires is a usage error" 2 "$rc"

# grant config errors name file and line; every command refuses them
cp "$CONF" "$DATA/bad.conf"
printf '\n[grant bad]\nprefix = bad\n' >>"$DATA/bad.conf"
out=$("$TG" links --config "$DATA/bad.conf" 2>&1); rc=$?
check_eq "a bad grant stops links" 1 "$rc"
check_contains "with file:line: [grant x] key = value: reason" \
    "bad.conf:$(grep -n '^prefix = bad$' "$DATA/bad.conf" | cut -d: -f1): [grant bad] prefix = bad: each prefix must end with '/'" "$out"
cp "$CONF" "$DATA/bad2.conf"
printf '\n[grant bad]\nprefix = bad/\nrotation = 1d\noverlap = 2d\n' >>"$DATA/bad2.conf"
out=$("$TG" token list --config "$DATA/bad2.conf" 2>&1)
check_contains "overlap >= rotation refused" "[grant bad] overlap = 2d: must be shorter than the rotation period" "$out"
cp "$CONF" "$DATA/bad3.conf"
printf '\n[grant bad]\nprefix = bad/\ncolour = red\n' >>"$DATA/bad3.conf"
out=$("$TG" links --config "$DATA/bad3.conf" 2>&1)
check_contains "unknown grant key refused with its line" "bad3.conf:$(grep -n '^colour' "$DATA/bad3.conf" | cut -d: -f1): unknown key 'colour' in [grant bad]" "$out"
cp "$CONF" "$DATA/cap.conf"
printf '\n[grant long]\nprefix = long/\nlink_ttl = 30d\n' >>"$DATA/cap.conf"
out=$("$TG" links --config "$DATA/cap.conf" long 2>&1); rc=$?
check_eq "link_ttl above 7 days is accepted" 0 "$rc"
check_contains "with a warning that it is capped" "link_ttl = 30d: capped at 7d" "$out"

# the server: tokens work and never reach its log
if tg_serve; then
    ok "server starts with grants"
    LNOW=$("$TG" links --config "$CONF" --format json tier2 2>>"$ERRS")
    TOK=$(jget "$LNOW" 'j[0]["current"]["token"]')
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/downloads/tier2?t=$TOK")
    check_eq "the current tier token opens the portal API" 200 "$code"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/downloads/tier2?t=$CUR")
    check_eq "the token of before the rotation is refused" 403 "$code"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/downloads/tier2?t=$N1")
    check_eq "a named token opens its grant" 200 "$code"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/downloads/tier1?t=$N2")
    check_eq "a revoked named token is refused" 403 "$code"
    u=$(jget "$("$TG" token list --json --config "$CONF" 2>>"$ERRS")" '[t for t in j if t["id"] == '"$ID1"'][0]["uses"]')
    check_eq "the open was charged to the named token" 1 "$u"
    tg_stop
    for tok in "$CUR" "$NEXT" "$NEWCUR" "$TOK" "$N1" "$N2" "$N3"; do
        if grep -q -- "$tok" "$T/server.log" "$ERRS"; then
            not_ok "token ${tok:0:6}... absent from the logs"
        else
            ok "token ${tok:0:6}... absent from the logs"
        fi
    done
else
    not_ok "server starts with grants"
fi
finish
