// pgJDBC against joltdb: connection startup (DateStyle, extra_float_digits),
// prepared statements with typed parameters (and server-side prepares after
// prepareThreshold executions), typed results, NULLs, errors with SQLSTATE,
// transactions with savepoints, batches and generated keys.
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE. Prints one line per check and exits non-zero on a failure.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

public class JdbcTest {
    interface Check {
        void run() throws Exception;
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    static Connection connect() throws SQLException {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "joltdb");
        Properties props = new Properties();
        props.setProperty("user", env("PGUSER", "joltdb"));
        props.setProperty("password", env("PGPASSWORD", ""));
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "60");
        props.setProperty("prepareThreshold", "2");
        return DriverManager.getConnection(url, props);
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    static void expect(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static void expectEq(Object actual, Object expected, String what) {
        boolean same = expected == null ? actual == null
                : (expected instanceof byte[] && actual instanceof byte[])
                        ? Arrays.equals((byte[]) expected, (byte[]) actual)
                        : expected.equals(actual);
        if (!same) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }

    static void expectState(String sqlState, String what, Check body) throws Exception {
        try {
            body.run();
        } catch (SQLException e) {
            expectEq(e.getSQLState(), sqlState, what + " (" + e.getMessage() + ")");
            return;
        }
        throw new AssertionError(what + ": expected SQLSTATE " + sqlState + ", got success");
    }

    static void metadataAndParameters() throws Exception {
        try (Connection c = connect()) {
            expect(c.getMetaData().getDatabaseProductVersion().startsWith("15"), "server version 15");
            try (PreparedStatement ps = c.prepareStatement("select ?::int + ?, ?::text, ? is null")) {
                for (int i = 0; i < 5; i++) { // past prepareThreshold: a named server-side statement
                    ps.setInt(1, 40 + i);
                    ps.setInt(2, 2);
                    ps.setString(3, "x" + i);
                    ps.setNull(4, Types.INTEGER);
                    try (ResultSet rs = ps.executeQuery()) {
                        expect(rs.next(), "one row");
                        expectEq(rs.getInt(1), 42 + i, "sum");
                        expectEq(rs.getString(2), "x" + i, "text");
                        expectEq(rs.getBoolean(3), true, "is null");
                        expect(!rs.next(), "only one row");
                    }
                }
            }
        }
    }

    static void typedRoundTrip() throws Exception {
        String table = unique("jdbc_types");
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute("create table " + table + " (id int primary key, b boolean, s smallint, big bigint,"
                    + " r real, d double precision, n numeric(12,3), t varchar(50), by bytea, dt date,"
                    + " ts timestamp, tz timestamptz, u uuid)");
            UUID u = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
            byte[] bytes = {0, 1, (byte) 0xff, '\''};
            LocalDateTime ts = LocalDateTime.of(2024, 2, 29, 13, 14, 15, 123456000);
            OffsetDateTime tz = OffsetDateTime.of(2024, 2, 29, 13, 14, 15, 500000000, ZoneOffset.UTC);
            try (PreparedStatement ps = c.prepareStatement(
                    "insert into " + table + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 1);
                ps.setBoolean(2, true);
                ps.setShort(3, (short) -32768);
                ps.setLong(4, Long.MAX_VALUE);
                ps.setFloat(5, 1.5f);
                ps.setDouble(6, 2.25);
                ps.setBigDecimal(7, new BigDecimal("123456789.125"));
                ps.setString(8, "héllo 'quoted'");
                ps.setBytes(9, bytes);
                ps.setObject(10, LocalDate.of(2024, 2, 29));
                ps.setObject(11, ts);
                ps.setObject(12, tz);
                ps.setObject(13, u);
                expectEq(ps.executeUpdate(), 1, "insert count");
                ps.setInt(1, 2);
                for (int i = 2; i <= 13; i++) {
                    ps.setNull(i, Types.NULL);
                }
                ps.executeUpdate();
            }
            try (ResultSet rs = st.executeQuery("select * from " + table + " order by id")) {
                expect(rs.next(), "row 1");
                expectEq(rs.getBoolean("b"), true, "boolean");
                expectEq(rs.getShort("s"), (short) -32768, "smallint");
                expectEq(rs.getLong("big"), Long.MAX_VALUE, "bigint");
                expectEq(rs.getFloat("r"), 1.5f, "real");
                expectEq(rs.getDouble("d"), 2.25, "double");
                expectEq(rs.getBigDecimal("n"), new BigDecimal("123456789.125"), "numeric");
                expectEq(rs.getString("t"), "héllo 'quoted'", "varchar");
                expectEq(rs.getBytes("by"), bytes, "bytea");
                expectEq(rs.getObject("dt", LocalDate.class), LocalDate.of(2024, 2, 29), "date");
                expectEq(rs.getObject("ts", LocalDateTime.class), ts, "timestamp");
                expectEq(rs.getObject("tz", OffsetDateTime.class), tz, "timestamptz");
                expectEq(rs.getObject("u"), u, "uuid");
                expectEq(rs.getMetaData().getColumnType(7), Types.NUMERIC, "numeric column type");
                expect(rs.next(), "row 2");
                for (int i = 2; i <= 13; i++) {
                    expectEq(rs.getObject(i), null, "NULL column " + i);
                }
                expect(!rs.next(), "two rows");
            }
            st.execute("drop table " + table);
        }
    }

    static void errors() throws Exception {
        String table = unique("jdbc_err");
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute("create table " + table + " (id int primary key, v text not null)");
            st.execute("insert into " + table + " values (1, 'a')");
            expectState("23505", "duplicate key", () -> st.execute("insert into " + table + " values (1, 'b')"));
            expectState("23502", "not null", () -> st.execute("insert into " + table + " values (2, null)"));
            expectState("42P01", "missing table", () -> st.executeQuery("select * from no_such_table_jdbc"));
            expectState("22012", "division by zero", () -> st.executeQuery("select 1/0"));
            expectState("42601", "syntax error", () -> st.execute("selec 1"));
            try (PreparedStatement ps = c.prepareStatement("select ?::int")) {
                ps.setString(1, "abc");
                expectState("22P02", "bad parameter", ps::executeQuery);
            }
            st.execute("drop table " + table);
        }
    }

    static void transactions() throws Exception {
        String table = unique("jdbc_tx");
        try (Connection c = connect(); Connection other = connect();
                Statement st = c.createStatement(); Statement ost = other.createStatement()) {
            st.execute("create table " + table + " (id int primary key, v int)");
            c.setAutoCommit(false);
            st.execute("insert into " + table + " values (1, 1)");
            try (ResultSet rs = ost.executeQuery("select count(*) from " + table)) {
                rs.next();
                expectEq(rs.getLong(1), 0L, "uncommitted insert invisible");
            }
            c.rollback();
            st.execute("insert into " + table + " values (1, 1), (2, 2)");
            Savepoint sp = c.setSavepoint("sp");
            st.execute("update " + table + " set v = 100");
            c.rollback(sp);
            expectState("23505", "duplicate in transaction", () -> st.execute("insert into " + table + " values (1, 9)"));
            expectState("25P02", "failed transaction", () -> st.executeQuery("select 1"));
            c.rollback();
            st.execute("insert into " + table + " values (1, 1), (2, 2)");
            c.commit();
            c.setAutoCommit(true);
            try (ResultSet rs = ost.executeQuery("select sum(v) from " + table)) {
                rs.next();
                expectEq(rs.getLong(1), 3L, "committed");
            }
            st.execute("drop table " + table);
        }
    }

    static void batchesAndGeneratedKeys() throws Exception {
        String table = unique("jdbc_batch");
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute("create table " + table + " (id bigserial primary key, name text, at date)");
            try (PreparedStatement ps = c.prepareStatement("insert into " + table + " (name, at) values (?, ?)")) {
                for (int i = 0; i < 25; i++) {
                    ps.setString(1, "n" + i);
                    ps.setDate(2, Date.valueOf(LocalDate.of(2024, 1, 1).plusDays(i)));
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                expectEq(counts.length, 25, "batch size");
                for (int n : counts) {
                    expectEq(n, 1, "batch count");
                }
            }
            try (PreparedStatement ps = c.prepareStatement("insert into " + table + " (name) values (?)",
                    Statement.RETURN_GENERATED_KEYS)) {
                ps.setString(1, "last");
                ps.executeUpdate();
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    expect(keys.next(), "generated key");
                    expectEq(keys.getLong("id"), 26L, "bigserial value");
                }
            }
            try (ResultSet rs = st.executeQuery("select max(at), count(*) from " + table)) {
                rs.next();
                expectEq(rs.getDate(1).toLocalDate(), LocalDate.of(2024, 1, 25), "max date");
                expectEq(rs.getLong(2), 26L, "count");
            }
            try (ResultSet rs = st.executeQuery("select now() > '2020-01-01'::timestamptz")) {
                rs.next();
                expectEq(rs.getBoolean(1), true, "now()");
            }
            Timestamp before = new Timestamp(System.currentTimeMillis() - 60_000);
            try (PreparedStatement ps = c.prepareStatement("select now() > ?")) {
                ps.setTimestamp(1, before);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    expectEq(rs.getBoolean(1), true, "timestamp parameter");
                }
            }
            st.execute("drop table " + table);
        }
    }

    public static void main(String[] args) {
        Map<String, Check> checks = new LinkedHashMap<>();
        checks.put("metadata_and_parameters", JdbcTest::metadataAndParameters);
        checks.put("typed_round_trip", JdbcTest::typedRoundTrip);
        checks.put("errors", JdbcTest::errors);
        checks.put("transactions", JdbcTest::transactions);
        checks.put("batches_and_generated_keys", JdbcTest::batchesAndGeneratedKeys);
        int passed = 0;
        int failed = 0;
        for (Map.Entry<String, Check> e : checks.entrySet()) {
            try {
                e.getValue().run();
                passed++;
                System.out.println("ok   " + e.getKey());
            } catch (Throwable t) {
                failed++;
                System.out.println("FAIL " + e.getKey());
                t.printStackTrace(System.out);
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
