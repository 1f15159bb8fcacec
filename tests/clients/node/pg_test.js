// node-postgres (`pg`) against joltdb: parameters, typed results, NULLs,
// errors with SQLSTATE, transactions, named prepared statements and a pool.
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE. Prints one line per check and exits non-zero on a failure.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Client, Pool } = require('pg');

const config = {
  host: process.env.PGHOST || '127.0.0.1',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'joltdb',
  password: process.env.PGPASSWORD || '',
  database: process.env.PGDATABASE || 'joltdb',
  connectionTimeoutMillis: 10000,
};

const unique = (prefix) => `${prefix}_${crypto.randomBytes(6).toString('hex')}`;

async function withClient(fn) {
  const client = new Client(config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function expectError(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return e;
  }
  assert.fail(`${what}: expected SQLSTATE ${code}, got success`);
}

const checks = {
  async parameters() {
    await withClient(async (c) => {
      const r = await c.query('select $1::int + $2::int as sum, $3::text as t, $4::int is null as n', [40, 2, 'x', null]);
      assert.deepEqual(r.rows, [{ sum: 42, t: 'x', n: true }]);
      assert.equal(r.fields[0].dataTypeID, 23);
      assert.equal(r.fields[1].dataTypeID, 25);
      assert.equal(r.fields[2].dataTypeID, 16);
    });
  },

  async typedRoundTrip() {
    const table = unique('node_types');
    await withClient(async (c) => {
      await c.query(`create table ${table} (id int primary key, b boolean, big bigint, d double precision,
        n numeric(12,3), t text, by bytea, dt date, ts timestamp, tz timestamptz, u uuid)`);
      const tz = new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 500));
      await c.query(`insert into ${table} values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
        1, true, '9223372036854775807', 2.25, '123456789.125', "héllo 'q'",
        Buffer.from([0, 1, 255]), '2024-02-29', '2024-02-29 13:14:15.123456', tz,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ]);
      await c.query(`insert into ${table} (id) values (2)`);
      const r = await c.query(`select * from ${table} order by id`);
      assert.equal(r.rowCount, 2);
      const row = r.rows[0];
      assert.equal(row.b, true);
      assert.equal(row.big, '9223372036854775807'); // int8 comes back as a string
      assert.equal(row.d, 2.25);
      assert.equal(row.n, '123456789.125');
      assert.equal(row.t, "héllo 'q'");
      assert.deepEqual(row.by, Buffer.from([0, 1, 255]));
      assert.equal(row.tz.getTime(), tz.getTime());
      assert.equal(row.u, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
      const dt = row.dt;
      assert.deepEqual([dt.getFullYear(), dt.getMonth(), dt.getDate()], [2024, 1, 29]);
      assert.deepEqual(
        Object.entries(r.rows[1]).filter(([k]) => k !== 'id').map(([, v]) => v),
        Array(10).fill(null),
      );
      // Text results as strings, exactly as PostgreSQL formats them.
      const text = await c.query({ text: `select ts::text, dt::text, n::text from ${table} where id = 1`, rowMode: 'array' });
      assert.deepEqual(text.rows, [['2024-02-29 13:14:15.123456', '2024-02-29', '123456789.125']]);
      await c.query(`drop table ${table}`);
    });
  },

  async errors() {
    const table = unique('node_err');
    await withClient(async (c) => {
      await c.query(`create table ${table} (id int primary key, v text not null)`);
      await c.query(`insert into ${table} values (1, 'a')`);
      const dup = await expectError(c.query(`insert into ${table} values (1, 'b')`), '23505', 'duplicate key');
      assert.match(dup.message, /duplicate key/);
      await expectError(c.query(`insert into ${table} values (2, null)`), '23502', 'not null');
      await expectError(c.query('select * from no_such_table_node'), '42P01', 'missing table');
      await expectError(c.query('select 1/0'), '22012', 'division by zero');
      await expectError(c.query('selec 1'), '42601', 'syntax error');
      await expectError(c.query('select $1::int', ['abc']), '22P02', 'bad parameter');
      // The connection is still usable.
      const r = await c.query(`select count(*)::int as n from ${table}`);
      assert.equal(r.rows[0].n, 1);
      await c.query(`drop table ${table}`);
    });
  },

  async transactions() {
    const table = unique('node_tx');
    await withClient(async (c) => {
      await withClient(async (other) => {
        await c.query(`create table ${table} (id int primary key, v int)`);
        await c.query('begin');
        await c.query(`insert into ${table} values (1, 1)`);
        const seen = await other.query(`select count(*)::int as n from ${table}`);
        assert.equal(seen.rows[0].n, 0, 'uncommitted insert is invisible');
        await c.query('rollback');
        await c.query('begin');
        await c.query(`insert into ${table} values (1, 1), (2, 2)`);
        await expectError(c.query(`insert into ${table} values (1, 3)`), '23505', 'duplicate');
        await expectError(c.query('select 1'), '25P02', 'failed transaction');
        await c.query('rollback');
        await c.query('begin');
        await c.query(`insert into ${table} values (1, 1), (2, 2)`);
        await c.query('savepoint s');
        await c.query(`delete from ${table}`);
        await c.query('rollback to savepoint s');
        await c.query('commit');
        const r = await other.query(`select id, v from ${table} order by id`);
        assert.deepEqual(r.rows, [{ id: 1, v: 1 }, { id: 2, v: 2 }]);
        await c.query(`drop table ${table}`);
      });
    });
  },

  async namedPreparedStatements() {
    const table = unique('node_prep');
    await withClient(async (c) => {
      await c.query(`create table ${table} (id int primary key, v text)`);
      for (let i = 0; i < 10; i++) {
        await c.query({ name: 'ins', text: `insert into ${table} values ($1, $2)`, values: [i, `v${i}`] });
      }
      for (let i = 0; i < 10; i++) {
        const r = await c.query({ name: 'sel', text: `select v from ${table} where id = $1`, values: [i] });
        assert.deepEqual(r.rows, [{ v: `v${i}` }]);
      }
      const r = await c.query({ text: `update ${table} set v = upper(v) where id >= $1 returning id`, values: [5] });
      assert.equal(r.rowCount, 5);
      assert.equal(r.command, 'UPDATE');
      await c.query(`drop table ${table}`);
    });
  },

  async pool() {
    const table = unique('node_pool');
    const pool = new Pool({ ...config, max: 4 });
    try {
      await pool.query(`create table ${table} (id int primary key)`);
      await Promise.all(Array.from({ length: 40 }, (_, i) => pool.query(`insert into ${table} values ($1)`, [i])));
      const r = await pool.query(`select count(*)::int as n, sum(id)::int as s from ${table}`);
      assert.deepEqual(r.rows, [{ n: 40, s: 780 }]);
      await pool.query(`drop table ${table}`);
    } finally {
      await pool.end();
    }
  },
};

(async () => {
  let passed = 0;
  let failed = 0;
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check();
      passed++;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n${e.stack}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
