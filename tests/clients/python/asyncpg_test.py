"""asyncpg against joltdb: binary parameters and results for every column,
prepared statements (asyncpg prepares everything), typed round trips, NULLs,
errors with SQLSTATE, transactions and executemany."""

import asyncio
import datetime
import decimal
import uuid

import asyncpg

from common import expect_eq, run, settings, unique


async def connect():
    s = settings()
    return await asyncpg.connect(
        host=s["host"], port=s["port"], user=s["user"], password=s["password"],
        database=s["dbname"], timeout=10,
    )


def sync(coro_fn):
    def wrapper():
        asyncio.run(asyncio.wait_for(coro_fn(), 60))
    wrapper.__name__ = coro_fn.__name__
    return wrapper


ROW = (
    1,
    True,
    -32768,
    9223372036854775807,
    1.5,
    2.25,
    decimal.Decimal("123456789.125"),
    "héllo 'quoted'",
    b"\x00\x01\xff",
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


@sync
async def check_simple_values():
    conn = await connect()
    try:
        expect_eq(await conn.fetchval("select 1"), 1, "select 1")
        expect_eq(await conn.fetchval("select $1::int + 1", 41), 42, "int parameter")
        expect_eq(await conn.fetchval("select $1::text || 'db'", "jolt"), "joltdb", "text parameter")
        expect_eq(await conn.fetchval("select $1::bigint is null", None), True, "NULL parameter")
    finally:
        await conn.close()


@sync
async def check_round_trip():
    table = unique("apg_types")
    conn = await connect()
    try:
        await conn.execute("create table %s (%s)" % (table, COLUMNS))
        await conn.execute(
            "insert into %s values (%s)" % (table, ", ".join("$%d" % (i + 1) for i in range(len(ROW)))),
            *ROW,
        )
        await conn.execute("insert into %s (id) values (2)" % table)
        rows = await conn.fetch("select * from %s order by id" % table)
        expect_eq(tuple(rows[0].values()), ROW, "typed round trip")
        expect_eq(tuple(rows[1].values()), (2,) + (None,) * (len(ROW) - 1), "NULLs")
        expect_eq(rows[0]["t"], ROW[7], "record by name")
        await conn.execute("drop table %s" % table)
    finally:
        await conn.close()


@sync
async def check_errors_and_transactions():
    table = unique("apg_tx")
    conn = await connect()
    try:
        await conn.execute("create table %s (id int primary key, v text not null)" % table)
        try:
            async with conn.transaction():
                await conn.execute("insert into %s values (1, 'a')" % table)
                await conn.execute("insert into %s values (1, 'b')" % table)
            raise AssertionError("duplicate accepted")
        except asyncpg.UniqueViolationError as e:
            expect_eq(e.sqlstate, "23505", "sqlstate")
        expect_eq(await conn.fetchval("select count(*) from %s" % table), 0, "rolled back")
        async with conn.transaction():
            await conn.executemany(
                "insert into %s values ($1, $2)" % table, [(i, "v%d" % i) for i in range(10)]
            )
        expect_eq(await conn.fetchval("select count(*) from %s" % table), 10, "executemany")
        for sql, code in [
            ("select 1/0", "22012"),
            ("select * from no_such_table_apg", "42P01"),
            ("insert into %s values (99, null)" % table, "23502"),
        ]:
            try:
                await conn.execute(sql)
                raise AssertionError("%r succeeded" % sql)
            except asyncpg.PostgresError as e:
                expect_eq(e.sqlstate, code, sql)
        stmt = await conn.prepare("select v from %s where id = $1" % table)
        expect_eq(await stmt.fetchval(3), "v3", "prepared statement")
        expect_eq([a.name for a in stmt.get_attributes()], ["v"], "attributes")
        await conn.execute("drop table %s" % table)
    finally:
        await conn.close()


@sync
async def check_type_introspection():
    # A custom codec makes asyncpg introspect the type with its recursive
    # pg_catalog.pg_type query (as it does for arrays, enums, composites).
    conn = await connect()
    try:
        await conn.set_type_codec(
            "int4", schema="pg_catalog", encoder=str, decoder=lambda v: int(v) * 10, format="text"
        )
        expect_eq(await conn.fetchval("select 4"), 40, "custom text codec")
    finally:
        await conn.close()


CHECKS = {
    "simple_values": check_simple_values,
    "round_trip": check_round_trip,
    "errors_and_transactions": check_errors_and_transactions,
    "type_introspection": check_type_introspection,
}
GROUPS = {
    "default": ["simple_values", "round_trip", "errors_and_transactions"],
    "catalog": ["type_introspection"],
}

if __name__ == "__main__":
    run(CHECKS, GROUPS)
