#!/bin/sh
# Back up, list, show, verify, restore and prune with brs, acting only on JSON and exit statuses.
# The storage, database and keys come from the environment (BRS_*) or the config file.
set -u

# field KEY...: read JSON on standard input and print the value at KEY... (list indexes are numbers).
field() {
    python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$@"
}

fail() {
    echo "backup-cycle: $1 (exit status $2)" >&2
    exit "$2"
}

result=$(brs backup --json --no-retention) || fail "backup failed" $?
version=$(echo "$result" | field version)

newest=$(brs backups list --json | field 0 version) || fail "cannot list backups" $?
[ "$newest" = "$version" ] || fail "the new backup $version is not the newest listed ($newest)" 1

digest=$(brs backups show "$version" --json | field digest) || fail "cannot show $version" $?

status=0
checked=$(brs verify "$version" --json) || status=$?
case $status in
    0) [ "$(echo "$checked" | field digest)" = "$digest" ] || fail "verify checked another object" 1 ;;
    4) fail "backup $version vanished" 4 ;;
    5) fail "backup $version is damaged" 5 ;;
    6) fail "no configured key opens backup $version" 6 ;;
    7) fail "the storage is unreachable" 7 ;;
    *) fail "verify failed" "$status" ;;
esac

status=0
restored=$(brs restore "$version" --json) || status=$?
case $status in
    0) ;;
    8 | 9) fail "the database or another brs is busy: restore through the sidecar (--server)" "$status" ;;
    *) fail "restore failed" "$status" ;;
esac
[ "$(echo "$restored" | field version)" = "$version" ] || fail "restored another backup" 1

plan=$(brs backups prune --keep-last 1 --dry-run --json) || fail "cannot plan retention" $?
[ "$(echo "$plan" | field keep 0 version)" = "$version" ] || fail "retention would not keep $version" 1
brs backups prune --keep-last 1 --json > /dev/null || fail "prune failed" $?

echo "$version"
