//! PostgreSQL's pgbench runs against joltdb unchanged: `pgbench -i` loads
//! its tables (COPY, then ALTER TABLE ... ADD PRIMARY KEY) and the built-in
//! TPC-B and select-only scripts run without a failed transaction, in both
//! the simple and the prepared protocol. `bench/run.sh` builds its
//! comparison with PostgreSQL on exactly these commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use joltdb_tests::{TestServer, PASSWORD, USER};

fn pgbench_binary() -> PathBuf {
    let system = Path::new("/usr/lib/postgresql/15/bin/pgbench");
    if system.exists() {
        return system.to_path_buf();
    }
    PathBuf::from("pgbench")
}

fn pgbench(server: &TestServer, args: &[&str]) -> Output {
    let out = Command::new(pgbench_binary())
        .args(args)
        .args(["-h", "127.0.0.1", "-U", USER])
        .arg("-p")
        .arg(server.port().to_string())
        .arg("joltdb")
        .env("PGPASSWORD", PASSWORD)
        .env("PGSSLMODE", "disable")
        .output()
        .expect("running pgbench (postgresql-client-15)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pgbench {args:?} failed:\n{text}");
    out
}

/// The number of transactions pgbench says it processed; panics on any
/// failed one.
fn processed(out: &Output) -> u64 {
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split(['/', ' ']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no \"{prefix}\" in pgbench output:\n{text}"))
    };
    assert_eq!(field("number of failed transactions: "), 0, "{text}");
    field("number of transactions actually processed: ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_init_tpcb_and_select_only() {
    let server = TestServer::start_default();
    pgbench(&server, &["-i", "-q", "-s", "1"]);
    let c = server.connect().await;
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM pgbench_accounts").await,
        100_000
    );
    assert_eq!(count("SELECT count(*) FROM pgbench_tellers").await, 10);

    // -n: no VACUUM/TRUNCATE pgbench_history before each run.
    for protocol in ["simple", "prepared"] {
        let out = pgbench(
            &server,
            &["-n", "-M", protocol, "-c", "4", "-j", "2", "-t", "25"],
        );
        assert_eq!(processed(&out), 100, "TPC-B, {protocol}");
        let out = pgbench(
            &server,
            &["-n", "-S", "-M", protocol, "-c", "2", "-t", "50"],
        );
        assert_eq!(processed(&out), 100, "select-only, {protocol}");
    }
    // Every TPC-B transaction added one history row and moved the same
    // delta through an account, a teller and a branch.
    assert_eq!(count("SELECT count(*) FROM pgbench_history").await, 200);
    let sums = c
        .query_one(
            "SELECT (SELECT sum(delta) FROM pgbench_history)::bigint,
                    (SELECT sum(abalance) FROM pgbench_accounts)::bigint,
                    (SELECT sum(tbalance) FROM pgbench_tellers)::bigint,
                    (SELECT sum(bbalance) FROM pgbench_branches)::bigint",
            &[],
        )
        .await
        .unwrap();
    let delta: i64 = sums.get(0);
    for i in 1..4 {
        assert_eq!(sums.get::<_, i64>(i), delta, "balance column {i}");
    }
}
