"""psycopg2 (libpq, text protocol with client-side parameter interpolation)
against joltdb: rows, types, NULLs, errors with SQLSTATE, transactions."""

import datetime
import decimal
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extras

from common import dsn, expect_eq, run, unique


def connect():
    return psycopg2.connect(dsn())


def check_server_version():
    with connect() as conn:
        # psycopg2 parses server_version from the startup parameters.
        assert conn.server_version >= 150000, conn.server_version
        cur = conn.cursor()
        cur.execute("select version()")
        assert cur.fetchone()[0].startswith("PostgreSQL 15"), "version()"


def check_round_trips():
    table = unique("pg2_types")
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "create table %s (id int primary key, b boolean, s smallint, big bigint,"
            " r real, d double precision, n numeric(12,3), t text, v varchar(10),"
            " by bytea, dt date, ts timestamp, tz timestamptz, iv interval, u uuid)" % table
        )
        u = uuid.uuid4()
        row = (
            1,
            True,
            -32768,
            9223372036854775807,
            1.5,
            2.25,
            decimal.Decimal("123456789.125"),
            "héllo 'quoted' \\ back",
            "short",
            b"\x00\x01\xff'\\",
            datetime.date(2024, 2, 29),
            datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
            datetime.datetime(2024, 2, 29, 13, 14, 15, tzinfo=datetime.timezone.utc),
            datetime.timedelta(days=3, hours=4, minutes=5, seconds=6),
            str(u),
        )
        cur.execute(
            "insert into %s values (%%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s)"
            % table,
            (row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
             psycopg2.Binary(row[9]), row[10], row[11], row[12], row[13], row[14]),
        )
        cur.execute("insert into %s (id) values (2)" % table)
        conn.commit()
        cur.execute("select * from %s order by id" % table)
        got = cur.fetchall()
        expect_eq(len(got), 2, "row count")
        first = list(got[0])
        first[9] = bytes(first[9])
        expect_eq(tuple(first), row, "typed round trip")
        expect_eq(got[1], (2,) + (None,) * 14, "NULLs")
        names = [d.name for d in cur.description]
        expect_eq(names[:3], ["id", "b", "s"], "column names")
        # type_code is the column's type OID.
        expect_eq([d.type_code for d in cur.description[:4]], [23, 16, 21, 20], "type OIDs")
        cur.execute("drop table %s" % table)
        conn.commit()
    finally:
        conn.close()


def check_parameters_and_nulls():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("select %s::int + %s, %s is null, coalesce(%s, 'dflt')", (40, 2, None, None))
        expect_eq(cur.fetchone(), (42, True, "dflt"), "parameters")
        cur.execute("select %(a)s || %(b)s", {"a": "jolt", "b": "db"})
        expect_eq(cur.fetchone(), ("joltdb",), "named parameters")


def check_errors():
    table = unique("pg2_err")
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute("create table %s (id int primary key, name text not null)" % table)
        conn.commit()
        cur.execute("insert into %s values (1, 'a')" % table)
        conn.commit()
        try:
            cur.execute("insert into %s values (1, 'b')" % table)
            raise AssertionError("duplicate key accepted")
        except psycopg2.errors.UniqueViolation as e:
            expect_eq(e.pgcode, "23505", "unique violation")
        # The transaction is now aborted: every statement fails with 25P02.
        try:
            cur.execute("select 1")
            raise AssertionError("statement in failed transaction succeeded")
        except psycopg2.errors.InFailedSqlTransaction as e:
            expect_eq(e.pgcode, "25P02", "in failed transaction")
        conn.rollback()
        for sql, code in [
            ("insert into %s values (2, null)" % table, "23502"),
            ("select * from no_such_table_%s" % table, "42P01"),
            ("select 1/0", "22012"),
            ("selec 1", "42601"),
            ("select 'x'::int", "22P02"),
        ]:
            try:
                cur.execute(sql)
                raise AssertionError("%r succeeded" % sql)
            except psycopg2.Error as e:
                expect_eq(e.pgcode, code, sql)
                conn.rollback()
        cur.execute("drop table %s" % table)
        conn.commit()
    finally:
        conn.close()


def check_transactions():
    table = unique("pg2_tx")
    conn = connect()
    other = connect()
    try:
        cur = conn.cursor()
        cur.execute("create table %s (id int primary key, v int)" % table)
        conn.commit()
        cur.execute("insert into %s values (1, 10)" % table)
        # Not committed yet: another connection does not see it.
        ocur = other.cursor()
        ocur.execute("select count(*) from %s" % table)
        expect_eq(ocur.fetchone(), (0,), "uncommitted row invisible")
        other.commit()
        conn.rollback()
        cur.execute("select count(*) from %s" % table)
        expect_eq(cur.fetchone(), (0,), "rolled back")
        cur.execute("insert into %s values (1, 10), (2, 20)" % table)
        cur.execute("savepoint sp")
        cur.execute("update %s set v = v + 1" % table)
        cur.execute("rollback to savepoint sp")
        cur.execute("delete from %s where id = 2" % table)
        conn.commit()
        ocur.execute("select id, v from %s order by id" % table)
        expect_eq(ocur.fetchall(), [(1, 10)], "committed state")
        other.commit()
        conn.autocommit = True
        cur.execute("drop table %s" % table)
    finally:
        conn.close()
        other.close()


def check_executemany_and_returning():
    table = unique("pg2_many")
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute("create table %s (id serial primary key, name text, score numeric(5,1))" % table)
        cur.executemany(
            "insert into %s (name, score) values (%%s, %%s)" % table,
            [("ann", decimal.Decimal("1.5")), ("bob", None), ("cy", decimal.Decimal("-3.0"))],
        )
        psycopg2.extras.execute_values(
            cur, "insert into %s (name, score) values %%s" % table, [("dee", 4), ("ed", 5)]
        )
        cur.execute("update %s set score = score * 2 where score > 0 returning name, score" % table)
        expect_eq(
            sorted(cur.fetchall()),
            [("ann", decimal.Decimal("3.0")), ("dee", decimal.Decimal("8.0")), ("ed", decimal.Decimal("10.0"))],
            "update returning",
        )
        expect_eq(cur.rowcount, 3, "rowcount")
        cur.execute("select name from %s where score is null" % table)
        expect_eq(cur.fetchall(), [("bob",)], "null filter")
        cur.execute("select count(*), sum(score) from %s" % table)
        expect_eq(cur.fetchone(), (5, decimal.Decimal("18.0")), "aggregates")
        conn.commit()
        cur.execute("drop table %s" % table)
        conn.commit()
    finally:
        conn.close()


def check_dict_cursor():
    with connect() as conn:
        cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        cur.execute("select 1 as one, 'two' as two")
        expect_eq(cur.fetchone(), {"one": 1, "two": "two"}, "dict cursor")


CHECKS = {
    "server_version": check_server_version,
    "round_trips": check_round_trips,
    "parameters_and_nulls": check_parameters_and_nulls,
    "errors": check_errors,
    "transactions": check_transactions,
    "executemany_and_returning": check_executemany_and_returning,
    "dict_cursor": check_dict_cursor,
}

if __name__ == "__main__":
    run(CHECKS)
