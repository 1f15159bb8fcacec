"""psycopg 3 against joltdb: server-side parameters in text and binary
format, binary results, server-side prepared statements, typed round trips,
NULLs, errors with SQLSTATE, transactions and pipelines."""

import datetime
import decimal
import uuid

import psycopg
import psycopg.errors

from common import dsn, expect_eq, run, unique


def connect(**kwargs):
    return psycopg.connect(dsn(), **kwargs)


ROW = (
    1,
    True,
    -32768,
    9223372036854775807,
    1.5,
    2.25,
    decimal.Decimal("123456789.125"),
    "héllo 'quoted' \\ back",
    b"\x00\x01\xff'\\",
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
    datetime.datetime(2024, 2, 29, 13, 14, 15, 500000, tzinfo=datetime.timezone.utc),
    datetime.time(23, 59, 58, 1),
    datetime.timedelta(days=3, hours=4, minutes=5, seconds=6),
    uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
)

COLUMNS = (
    "id int primary key, b boolean, s smallint, big bigint, r real, d double precision,"
    " n numeric(12,3), t text, by bytea, dt date, ts timestamp, tz timestamptz, tm time,"
    " iv interval, u uuid"
)


def round_trip(binary):
    table = unique("pg3_types")
    with connect(autocommit=True) as conn:
        conn.execute("create table %s (%s)" % (table, COLUMNS))
        placeholder = "%b" if binary else "%t"
        conn.execute(
            "insert into %s values (%s)" % (table, ", ".join([placeholder] * len(ROW))), ROW
        )
        conn.execute("insert into %s (id) values (2)" % table)
        cur = conn.cursor(binary=binary)
        cur.execute("select * from %s order by id" % table)
        rows = cur.fetchall()
        expect_eq(rows[0], ROW, "typed round trip (binary=%s)" % binary)
        expect_eq(rows[1], (2,) + (None,) * (len(ROW) - 1), "NULLs (binary=%s)" % binary)
        # Every result column comes back in the format asked for.
        expect_eq(
            {cur.pgresult.fformat(i) for i in range(len(ROW))},
            {1 if binary else 0},
            "result formats",
        )
        cur.execute("select id from %s where u = %%s and n = %%s and ts = %%s" % table,
                    (ROW[14], ROW[6], ROW[10]))
        expect_eq(cur.fetchall(), [(1,)], "typed parameters in WHERE (binary=%s)" % binary)
        conn.execute("drop table %s" % table)


def check_text_round_trip():
    round_trip(False)


def check_binary_round_trip():
    round_trip(True)


def check_binary_execute():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute(
            "select %s::int + 1, %s::text, %s::numeric * 2, %s::bytea, %s::boolean",
            (41, "x", decimal.Decimal("1.25"), b"\x00\xff", None),
            binary=True,
        )
        expect_eq(cur.fetchone(), (42, "x", decimal.Decimal("2.50"), b"\x00\xff", None), "binary=True")
        expect_eq(cur.pgresult.fformat(0), 1, "binary result format")


def check_prepared_statements():
    table = unique("pg3_prep")
    with connect(autocommit=True) as conn:
        conn.execute("create table %s (id int primary key, v text)" % table)
        # prepare=True makes psycopg use a named server-side statement at once.
        for i in range(10):
            conn.execute("insert into %s values (%%s, %%s)" % table, (i, "v%d" % i), prepare=True)
        for i in range(10):
            got = conn.execute("select v from %s where id = %%s" % table, (i,), prepare=True).fetchone()
            expect_eq(got, ("v%d" % i,), "prepared select")
        # After prepare_threshold (5) executions psycopg prepares by itself.
        for i in range(8):
            conn.execute("select count(*) from %s where id < %%s" % table, (i,))
        expect_eq(conn.execute("select count(*) from %s" % table).fetchone(), (10,), "count")
        # A prepared statement that fails keeps the connection usable.
        with conn.transaction():
            conn.execute("savepoint s")
            try:
                conn.execute("insert into %s values (%%s, %%s)" % table, (1, "dup"), prepare=True)
                raise AssertionError("duplicate accepted")
            except psycopg.errors.UniqueViolation as e:
                expect_eq(e.sqlstate, "23505", "sqlstate")
            conn.execute("rollback to savepoint s")
        conn.execute("drop table %s" % table)


def check_errors():
    with connect() as conn:
        for sql, params, code in [
            ("select 1/0", None, "22012"),
            ("select * from no_such_table_xyz", None, "42P01"),
            ("selec 1", None, "42601"),
            ("select %s::int", ("abc",), "22P02"),
            ("select no_such_column", None, "42703"),
        ]:
            try:
                conn.execute(sql, params)
                raise AssertionError("%r succeeded" % sql)
            except psycopg.Error as e:
                expect_eq(e.sqlstate, code, sql)
            conn.rollback()
        try:
            conn.execute("select 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        try:
            conn.execute("select 1")
            raise AssertionError("statement in failed transaction succeeded")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        conn.rollback()
        expect_eq(conn.execute("select 1").fetchone(), (1,), "usable after rollback")


def check_transactions():
    table = unique("pg3_tx")
    with connect(autocommit=True) as conn, connect(autocommit=True) as other:
        conn.execute("create table %s (id int primary key, v int)" % table)
        try:
            with conn.transaction():
                conn.execute("insert into %s values (1, 1)" % table)
                expect_eq(other.execute("select count(*) from %s" % table).fetchone(), (0,), "isolation")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        expect_eq(conn.execute("select count(*) from %s" % table).fetchone(), (0,), "rolled back")
        with conn.transaction():
            conn.execute("insert into %s values (1, 1), (2, 2)" % table)
            try:
                with conn.transaction():  # a savepoint
                    conn.execute("update %s set v = 100" % table)
                    raise RuntimeError("inner")
            except RuntimeError:
                pass
        expect_eq(
            other.execute("select id, v from %s order by id" % table).fetchall(),
            [(1, 1), (2, 2)],
            "savepoint rolled back, outer committed",
        )
        conn.execute("drop table %s" % table)


def check_pipeline():
    table = unique("pg3_pipe")
    with connect(autocommit=True) as conn:
        conn.execute("create table %s (id int primary key)" % table)
        with conn.pipeline():
            for i in range(20):
                conn.execute("insert into %s values (%%s)" % table, (i,))
            cur = conn.execute("select sum(id) from %s" % table)
        expect_eq(cur.fetchone(), (190,), "pipeline")
        conn.execute("drop table %s" % table)


def check_executemany_returning():
    table = unique("pg3_many")
    with connect(autocommit=True) as conn:
        conn.execute("create table %s (id bigserial primary key, name text)" % table)
        cur = conn.cursor()
        cur.executemany(
            "insert into %s (name) values (%%s) returning id" % table,
            [("a",), ("b",), ("c",)],
            returning=True,
        )
        ids = []
        while True:
            ids.append(cur.fetchone()[0])
            if not cur.nextset():
                break
        expect_eq(len(set(ids)), 3, "returned ids")
        conn.execute("drop table %s" % table)


CHECKS = {
    "text_round_trip": check_text_round_trip,
    "binary_round_trip": check_binary_round_trip,
    "binary_execute": check_binary_execute,
    "prepared_statements": check_prepared_statements,
    "errors": check_errors,
    "transactions": check_transactions,
    "pipeline": check_pipeline,
    "executemany_returning": check_executemany_returning,
}

if __name__ == "__main__":
    run(CHECKS)
