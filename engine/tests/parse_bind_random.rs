//! Random and mutated SQL through parse and bind (the stable counterpart of
//! the `sql_parse_bind` fuzz target): the seed corpus in fuzz/seeds, then
//! mutations of it spliced with SQL tokens. Every input must give a result
//! or an error, never a panic.

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::parse_bind::ParseBind;

/// Fragments that keep mutated input close to SQL, so it gets past the
/// tokenizer into the parser and the binder.
const TOKENS: &[&str] = &[
    "SELECT ",
    " FROM ",
    " WHERE ",
    " t ",
    " u ",
    " id ",
    " name ",
    " score ",
    "(",
    ")",
    ",",
    " = ",
    " + ",
    " || ",
    "::int",
    "::text",
    "::numeric(5,2)",
    "::date",
    "::interval",
    "$1",
    "$2",
    "$99999999999",
    " NULL ",
    " AND ",
    " OR ",
    " NOT ",
    " IN (",
    " JOIN ",
    " ON ",
    " GROUP BY ",
    " ORDER BY ",
    " LIMIT ",
    " UNION ",
    " CASE WHEN ",
    " THEN ",
    " END ",
    "'",
    "''",
    "\"",
    ";",
    "--",
    "/*",
    "*/",
    "E'\\x",
    "1e308",
    "-9223372036854775808",
    "9999999999999999999999999999999",
    " count(*) ",
    " sum(",
    " avg(",
    " max(",
    " OVER (",
    " WITH ",
    " RETURNING ",
    " INSERT INTO ",
    " VALUES ",
    " UPDATE ",
    " SET ",
    " DELETE ",
    " CREATE TABLE ",
    " DROP TABLE ",
    " ARRAY[",
    "[1]",
    " EXISTS (",
    " BETWEEN ",
    " LIKE ",
    " ~ ",
    " IS DISTINCT FROM ",
    " COLLATE ",
    " * ",
    " / 0",
    " % ",
    "..",
    "\u{0}",
    "é",
    "\u{feff}",
];

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/sql_parse_bind");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {dir}");
    seeds
}

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..5) {
        let at = rng.gen_range(0..=data.len());
        match rng.gen_range(0..5) {
            0 => {
                let token = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            1 => {
                let end = rng.gen_range(at..=data.len().min(at + 12));
                data.drain(at..end);
            }
            2 => data.truncate(at),
            3 => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                let from = rng.gen_range(0..other.len());
                data.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                // Deep nesting stresses recursion limits.
                let depth = rng.gen_range(1..300);
                let open = "(".repeat(depth);
                data.splice(at..at, open.bytes());
            }
        }
    }
    data
}

#[test]
fn seeds_parse_and_bind() {
    let mut harness = ParseBind::new();
    for seed in seeds() {
        harness.run(&seed);
    }
}

/// 20k mutated statements by default (JOLTDB_FUZZ_ITERATIONS for more).
#[test]
fn random_sql_never_panics() {
    let iterations: usize = std::env::var("JOLTDB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seeds = seeds();
    let seed = rand::random::<u64>();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut harness = ParseBind::new();
    for i in 0..iterations {
        let data = mutate(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(&data)));
        assert!(
            outcome.is_ok(),
            "panic on {:?} (rng seed {seed}, iteration {i})",
            String::from_utf8_lossy(&data)
        );
    }
}
