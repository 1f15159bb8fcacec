"""Shared helpers for the Python client programs: connection settings from
the standard libpq environment variables, unique table names, and a tiny
runner that runs named checks, prints each outcome and exits non-zero when
one fails."""

import os
import sys
import traceback
import uuid


def settings():
    """Connection settings from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE."""
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "user": os.environ.get("PGUSER", "joltdb"),
        "password": os.environ.get("PGPASSWORD", ""),
        "dbname": os.environ.get("PGDATABASE", "joltdb"),
    }


def dsn():
    s = settings()
    return "host={host} port={port} user={user} password={password} dbname={dbname}".format(**s)


def unique(prefix):
    """A table name no other run (or concurrent program) uses."""
    return "%s_%s" % (prefix, uuid.uuid4().hex[:12])


def expect_eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what or "value", expected, actual))


def run(checks, groups=None):
    """Runs `checks` (name -> callable). With command-line arguments, only
    the checks in the named groups run; `groups` maps a group name to the
    check names in it ("default" is used when no argument is given)."""
    wanted = sys.argv[1:] or ["default"]
    names = []
    for group in wanted:
        if groups is None:
            names = list(checks)
        elif group not in groups:
            print("unknown group %r (known: %s)" % (group, ", ".join(groups)))
            sys.exit(2)
        else:
            names.extend(groups[group])
    passed = failed = 0
    for name in names:
        try:
            checks[name]()
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
