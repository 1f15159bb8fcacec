//! The system catalogs: psql's `\d` family and driver-style catalog queries
//! give the same answers on joltdb as on PostgreSQL 15 for the same schema.
//!
//! Skipped, with a message, when the PostgreSQL 15 binaries are not
//! installed.

use joltdb_tests::postgres::Postgres;
use joltdb_tests::{assert_sqlstate, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

const SCHEMA: &str = "
CREATE TABLE items (
    id integer PRIMARY KEY,
    code varchar(12) NOT NULL UNIQUE,
    price numeric(10,2) DEFAULT 0,
    qty integer NOT NULL DEFAULT 1,
    note text DEFAULT 'none',
    created timestamp with time zone,
    CONSTRAINT qty_nonnegative CHECK (qty >= 0)
);
CREATE INDEX items_note_idx ON items (note);
CREATE UNIQUE INDEX items_created_idx ON items (created);
CREATE TABLE counters (n bigserial PRIMARY KEY, label char(4));
CREATE TABLE plain (a smallint, b double precision, c boolean, d bytea, e date, f uuid);
CREATE TABLE makers (id int PRIMARY KEY, name text UNIQUE);
CREATE TABLE parts (
    id int PRIMARY KEY,
    maker int REFERENCES makers ON DELETE CASCADE,
    maker_name text REFERENCES makers (name) ON DELETE SET NULL
);
CREATE VIEW maker_names AS SELECT name FROM makers;
";

/// joltdb's built-in roles, created on PostgreSQL too so that role lists
/// compare equal.
const JOLTDB_BUILTIN_ROLES: &str =
    "CREATE ROLE joltdb_backup NOLOGIN; CREATE ROLE joltdb_restore NOLOGIN;";

/// Roles, ownership and grants for the privilege checks.
const PRIVILEGES: &str = "
CREATE ROLE readers NOLOGIN;
CREATE ROLE alice LOGIN PASSWORD 'alice-secret';
CREATE ROLE bob LOGIN NOINHERIT CREATEDB VALID UNTIL '2030-01-01 00:00:00+00';
CREATE ROLE ops LOGIN CREATEROLE;
GRANT readers TO bob;
GRANT readers TO alice;
CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric);
CREATE TABLE notes (id int, body text);
GRANT SELECT ON accounts TO readers;
GRANT INSERT, UPDATE ON accounts TO alice WITH GRANT OPTION;
GRANT SELECT (id, owner) ON accounts TO ops;
GRANT ALL ON notes TO ops;
GRANT SELECT ON notes TO PUBLIC;
REVOKE UPDATE ON accounts FROM alice;
";

/// Queries over privileges whose rows must match PostgreSQL's.
const PRIVILEGE_QUERIES: &[&str] = &[
    "SELECT has_table_privilege('alice', 'accounts', 'INSERT'), \
            has_table_privilege('alice', 'accounts', 'UPDATE'), \
            has_table_privilege('alice', 'accounts', 'SELECT'), \
            has_table_privilege('alice', 'accounts', 'DELETE'), \
            has_table_privilege('bob', 'accounts', 'SELECT'), \
            has_table_privilege('readers', 'accounts', 'SELECT'), \
            has_table_privilege('ops', 'accounts', 'SELECT'), \
            has_table_privilege('ops', 'notes', 'TRUNCATE'), \
            has_table_privilege('bob', 'notes', 'SELECT'), \
            has_table_privilege('bob', 'notes', 'INSERT'), \
            has_table_privilege('alice', 'accounts', 'INSERT WITH GRANT OPTION'), \
            has_table_privilege('accounts', 'DELETE')",
    "SELECT has_table_privilege('alice', 'accounts'::regclass, 'select, insert')",
    "SELECT grantor, grantee, table_name, privilege_type, is_grantable, with_hierarchy \
     FROM information_schema.role_table_grants WHERE table_schema = 'public' \
     ORDER BY table_name, grantee, privilege_type",
    "SELECT grantor, grantee, table_name, privilege_type, is_grantable \
     FROM information_schema.table_privileges WHERE table_schema = 'public' \
     ORDER BY table_name, grantee, privilege_type",
    "SELECT relname, relacl, pg_get_userbyid(relowner) FROM pg_class \
     WHERE relname IN ('accounts', 'notes') ORDER BY 1",
    "SELECT r.rolname, m.rolname, a.admin_option, g.rolname FROM pg_auth_members a \
     JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
     JOIN pg_roles g ON g.oid = a.grantor WHERE m.rolname !~ '^pg_' ORDER BY 1, 2",
];

/// Privilege queries as a role that is not a superuser (`SET ROLE
/// alice`): only the grants alice takes part in are listed.
const PRIVILEGE_QUERIES_AS_ALICE: &[&str] = &[
    "SELECT grantor, grantee, table_name, privilege_type, is_grantable \
     FROM information_schema.role_table_grants WHERE table_schema = 'public' \
     ORDER BY table_name, grantee, privilege_type",
    "SELECT grantee, table_name, privilege_type \
     FROM information_schema.table_privileges WHERE table_schema = 'public' \
     ORDER BY table_name, grantee, privilege_type",
    "SELECT has_table_privilege('notes', 'SELECT'), has_table_privilege('notes', 'DELETE')",
];

/// Privilege errors that must carry PostgreSQL's SQLSTATE.
const PRIVILEGE_ERRORS: &[&str] = &[
    "SELECT has_table_privilege('nobody', 'accounts', 'SELECT')",
    "SELECT has_table_privilege('alice', 'accounts', 'FLY')",
    "SELECT has_table_privilege('alice', 'no_such_table', 'SELECT')",
];

/// psql commands whose output must match PostgreSQL's exactly.
const PSQL_COMMANDS: &[&str] = &[
    "\\d items",
    "\\d counters",
    "\\d plain",
    "\\d parts",
    "\\d makers",
    "\\d",
    "\\dt",
    "\\di",
    "\\ds",
    "\\dv",
    "\\du",
];

/// Catalog queries whose rows must match PostgreSQL's exactly.
const QUERIES: &[&str] = &[
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, \
     data_type, character_maximum_length, numeric_precision, numeric_precision_radix, \
     numeric_scale, datetime_precision, udt_name, is_identity \
     FROM information_schema.columns WHERE table_schema = 'public' \
     ORDER BY table_name, ordinal_position",
    "SELECT table_schema, table_name, table_type FROM information_schema.tables \
     WHERE table_schema = 'public' ORDER BY table_name",
    "SELECT constraint_name, table_name, constraint_type, is_deferrable \
     FROM information_schema.table_constraints \
     WHERE table_schema = 'public' AND constraint_name NOT LIKE '%not_null' \
     ORDER BY constraint_name",
    "SELECT constraint_name, table_name, column_name, ordinal_position \
     FROM information_schema.key_column_usage WHERE table_schema = 'public' \
     ORDER BY constraint_name, ordinal_position",
    "SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment \
     FROM information_schema.sequences ORDER BY sequence_name",
    "SELECT schema_name FROM information_schema.schemata ORDER BY 1",
    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
     a.atthasdef, a.attnum FROM pg_catalog.pg_attribute a \
     WHERE a.attrelid = 'items'::regclass AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum",
    "SELECT c.relname, c.relkind, c.relnatts, c.relchecks, c.relhasindex \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = 'public' ORDER BY c.relname",
    "SELECT ic.relname, i.indisunique, i.indisprimary, pg_catalog.array_to_string(i.indkey, ' '), \
     pg_get_indexdef(i.indexrelid) \
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
     WHERE i.indrelid = 'items'::regclass ORDER BY ic.relname",
    "SELECT conname, contype, conkey, pg_get_constraintdef(oid) FROM pg_constraint \
     WHERE conrelid = 'public.items'::regclass ORDER BY conname",
    "SELECT conname, contype, conkey, confkey, confupdtype, confdeltype, \
     confrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint \
     WHERE conrelid = 'parts'::regclass ORDER BY conname",
    "SELECT viewname, viewowner FROM pg_views WHERE schemaname = 'public'",
    "SELECT table_name, check_option FROM information_schema.views \
     WHERE table_schema = 'public'",
    "SELECT d.adnum, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d \
     WHERE d.adrelid = 'counters'::regclass ORDER BY 1",
    "SELECT c.oid::regclass::text, pg_table_is_visible(c.oid) FROM pg_class c \
     WHERE c.relname OPERATOR(pg_catalog.~) '^(items|counters)$' COLLATE pg_catalog.default \
     ORDER BY 1",
    "SELECT t.typname, t.typlen, t.typcategory FROM pg_type t \
     WHERE t.oid IN (16, 20, 23, 25, 1043, 1700, 1184, 2950) ORDER BY t.oid",
    "SELECT format_type(1043, 16), format_type(1700, 655366), format_type(1042, 8), \
     format_type(1184, -1), format_type(1007, -1)",
    "SELECT 'int4'::regtype::text, 'character varying'::regtype::oid, \
     to_regclass('no_such_table') IS NULL, 'items'::regclass::oid = \
     (SELECT oid FROM pg_class WHERE relname = 'items')",
    "SELECT pg_get_serial_sequence('counters', 'n'), \
     has_table_privilege('items', 'SELECT'), has_schema_privilege('public', 'USAGE')",
    "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1",
    "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_toast' \
     AND nspname <> 'pg_temp_1' ORDER BY 1",
    "SELECT current_schema(), pg_encoding_to_char(6), 'a' = ANY('{b,a}'), \
     array_to_string('{x,y}'::text[], '-')",
    "SELECT count(*) FROM pg_policy",
    "SELECT s.x FROM generate_series(1, 3) s(x)",
    "SELECT c.relname, c.relhastriggers FROM pg_class c JOIN pg_namespace n \
     ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
    "SELECT * FROM generate_series(5, 7) WITH ORDINALITY AS g(x, n)",
    "SELECT * FROM unnest('{a,b}'::text[]) WITH ORDINALITY",
    "SELECT * FROM pg_partition_ancestors('parts') WITH ORDINALITY AS a(relid, depth)",
    "SELECT pg_partition_ancestors('parts_pkey')",
    "SELECT conname FROM pg_constraint WHERE confrelid IN \
     (SELECT pg_partition_ancestors('makers') UNION ALL VALUES ('makers'::regclass)) \
     ORDER BY 1",
    "SELECT count(*), pg_get_triggerdef(0) IS NULL FROM pg_trigger WHERE NOT tgisinternal",
];

/// Statements that must fail with the same SQLSTATE on both.
const ERRORS: &[&str] = &[
    "SELECT 'no_such_table'::regclass",
    "SELECT 'no_such_type'::regtype",
    "SELECT * FROM pg_partition_ancestors('no_such_table')",
    "SELECT * FROM information_schema.no_such_view",
    "SELECT has_table_privilege('no_such_table', 'SELECT')",
    "SELECT 'x' COLLATE \"no_such_collation\"",
];

fn psql_text(out: std::process::Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.is_empty() {
        s.push_str("stderr: ");
        s.push_str(&err);
    }
    s
}

async fn rows(c: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    match c.simple_query(sql).await {
        Ok(msgs) => Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect()),
        Err(e) => Err(e
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_else(|| e.to_string())),
    }
}

/// Whether a query is expected to succeed on PostgreSQL.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Rows,
    Error,
}

/// Runs each psql command on both servers and asserts the output is the
/// same, byte for byte.
fn same_psql_output(server: &TestServer, pg: &Postgres, commands: &[&str]) {
    for cmd in commands {
        let j = psql_text(server.psql(&["-c", cmd]));
        let p = psql_text(pg.psql(&["-c", cmd]));
        assert_eq!(
            j, p,
            "psql {cmd}: joltdb (left) and PostgreSQL (right) differ"
        );
    }
}

/// Runs each query on both servers and asserts the same rows (or the same
/// SQLSTATE) come back.
async fn same_rows(jolt: &Client, post: &Client, queries: &[&str], outcome: Outcome) {
    for sql in queries {
        let j = rows(jolt, sql).await;
        let p = rows(post, sql).await;
        assert_eq!(
            p.is_err(),
            outcome == Outcome::Error,
            "{sql} on PostgreSQL: {p:?}"
        );
        assert_eq!(j, p, "{sql}: joltdb (left) and PostgreSQL (right) differ");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_match_postgres() {
    let mut pg = Postgres::start();
    let server = TestServer::start_default();
    let jolt = server.connect().await;
    let post = pg.connect().await;
    jolt.batch_execute(SCHEMA).await.expect("schema on joltdb");
    post.batch_execute(SCHEMA)
        .await
        .expect("schema on PostgreSQL");
    post.batch_execute(JOLTDB_BUILTIN_ROLES)
        .await
        .expect("built-in roles on PostgreSQL");

    same_psql_output(&server, &pg, PSQL_COMMANDS);
    same_rows(&jolt, &post, QUERIES, Outcome::Rows).await;
    same_rows(&jolt, &post, ERRORS, Outcome::Error).await;

    // \dn: PostgreSQL 15's public schema belongs to pg_database_owner,
    // joltdb's to the superuser.
    let j = psql_text(server.psql(&["-c", "\\dn"]));
    let p = psql_text(pg.psql(&["-c", "\\dn"])).replace("pg_database_owner", "joltdb");
    // The owner column's width differs with the name; compare the words.
    let norm = |s: &str| {
        s.split_whitespace()
            .filter(|w| !w.chars().all(|c| c == '-' || c == '+'))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(norm(&j), norm(&p), "psql \\dn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_follow_ddl_and_psql_extras_work() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let q = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't'";
    assert_eq!(count(q).await, 2);
    // Prepared once, it sees later DDL: the rows are derived when read.
    let stmt = c
        .prepare("SELECT count(*) FROM pg_class WHERE relname = $1")
        .await
        .unwrap();
    let n = |name: &'static str| {
        let (c, stmt) = (&c, &stmt);
        async move { c.query_one(stmt, &[&name]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(n("t_pkey").await, 1);
    c.batch_execute("CREATE INDEX t_v ON t (v)").await.unwrap();
    assert_eq!(n("t_v").await, 1);
    c.batch_execute("DROP TABLE t").await.unwrap();
    assert_eq!(n("t").await, 0);
    assert_eq!(count(q).await, 0);

    // Typed results through the extended protocol.
    let row = c
        .query_one(
            "SELECT oid, typname, typlen FROM pg_catalog.pg_type WHERE typname = 'int8'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, u32>(0), 20);
    assert_eq!(row.get::<_, &str>(1), "int8");
    assert_eq!(row.get::<_, i16>(2), 8);

    // The catalogs are read-only.
    for sql in [
        "DELETE FROM pg_class WHERE true",
        "INSERT INTO pg_namespace (nspname) VALUES ('x')",
        "UPDATE pg_catalog.pg_type SET typlen = 1",
    ] {
        assert_sqlstate(c.execute(sql, &[]).await, &SqlState::WRONG_OBJECT_TYPE);
    }

    // \l, \x and \timing.
    let out = server.psql(&["-c", "\\l"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(" joltdb ") && l.contains("| joltdb") && l.contains("UTF8")),
        "{text}"
    );
    let out = server.psql(&[
        "-c",
        "\\x on",
        "-c",
        "SELECT rolname, rolsuper FROM pg_roles",
        "-c",
        "\\timing on",
        "-c",
        "SELECT count(*) FROM pg_settings WHERE name = 'search_path'",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("rolname  | joltdb"), "{text}");
    assert!(text.contains("rolsuper | t"), "{text}");
    assert!(text.contains("count | 1"), "{text}");
    assert!(text.contains("Time: "), "{text}");

    assert_sqlstate(
        c.simple_query("SELECT * FROM pg_catalog.no_such_catalog")
            .await,
        &SqlState::UNDEFINED_TABLE,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_privileges_match_postgres() {
    let mut pg = Postgres::start();
    let server = TestServer::start_default();
    let jolt = server.connect().await;
    let post = pg.connect().await;
    post.batch_execute(JOLTDB_BUILTIN_ROLES)
        .await
        .expect("built-in roles on PostgreSQL");
    jolt.batch_execute(PRIVILEGES)
        .await
        .expect("grants on joltdb");
    post.batch_execute(PRIVILEGES)
        .await
        .expect("grants on PostgreSQL");

    same_psql_output(
        &server,
        &pg,
        &["\\du", "\\dp", "\\dp accounts", "\\du alice"],
    );
    same_rows(&jolt, &post, PRIVILEGE_QUERIES, Outcome::Rows).await;
    same_rows(&jolt, &post, PRIVILEGE_ERRORS, Outcome::Error).await;
    // As a role that is not a superuser.
    jolt.batch_execute("SET ROLE alice").await.unwrap();
    post.batch_execute("SET ROLE alice").await.unwrap();
    same_rows(&jolt, &post, PRIVILEGE_QUERIES_AS_ALICE, Outcome::Rows).await;

    // A grant shows at once; a revoke takes it away.
    jolt.batch_execute("RESET ROLE; GRANT DELETE ON notes TO alice")
        .await
        .unwrap();
    let q = "SELECT has_table_privilege('alice', 'notes', 'DELETE')";
    assert_eq!(rows(&jolt, q).await, Ok(vec![vec![Some("t".into())]]));
    jolt.batch_execute("REVOKE DELETE ON notes FROM alice")
        .await
        .unwrap();
    assert_eq!(rows(&jolt, q).await, Ok(vec![vec![Some("f".into())]]));
}
