//! Runs psql scripts against joltdb and compares their output with what
//! PostgreSQL 15 prints for the same scripts (`tests/psql/*.out`, `*.err`).

use std::path::Path;

use joltdb_tests::TestServer;

/// Line-by-line comparison with a readable failure message.
#[track_caller]
fn assert_same_output(what: &str, got: &str, expected: &str) {
    if got == expected {
        return;
    }
    let mut report = String::new();
    let got_lines: Vec<&str> = got.lines().collect();
    let exp_lines: Vec<&str> = expected.lines().collect();
    for i in 0..got_lines.len().max(exp_lines.len()) {
        let g = got_lines.get(i).copied();
        let e = exp_lines.get(i).copied();
        if g != e {
            report.push_str(&format!(
                "first difference at line {}:\n  expected: {:?}\n  got:      {:?}\n",
                i + 1,
                e,
                g
            ));
            break;
        }
    }
    panic!("{what} differs from PostgreSQL 15\n{report}---- got ----\n{got}---- expected ----\n{expected}");
}

fn run_script(server: &TestServer, name: &str) -> (String, String, Option<i32>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("psql");
    let script = format!("{name}.sql");
    let out = server
        .psql_command(&["-v", "ON_ERROR_STOP=1", "-f", &script])
        .current_dir(&dir)
        .output()
        .expect("running psql");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn expected(name: &str, ext: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("psql")
        .join(format!("{name}.{ext}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn basic_script_matches_postgres() {
    let server = TestServer::start_default();
    let (stdout, stderr, code) = run_script(&server, "basic");
    assert_same_output("psql stdout", &stdout, &expected("basic", "out"));
    assert_same_output("psql stderr", &stderr, &expected("basic", "err"));
    // ON_ERROR_STOP makes psql exit with 3 at the script's final error.
    assert_eq!(code, Some(3), "psql exit code");
}

#[test]
fn psql_command_line() {
    let server = TestServer::start_default();
    let out = server.psql(&[
        "-A",
        "-t",
        "-c",
        "SELECT lower(version()) LIKE 'postgresql 15%joltdb%', 6 * 7",
    ]);
    assert!(
        out.status.success(),
        "psql -c failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "t|42\n");
}
