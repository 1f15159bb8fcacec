//! The `joltdb` binary: parses the command line, sets up logging and runs
//! the PostgreSQL-wire server (see [`server`]).

// Engine errors are passed along by value on the (cold) error path; their
// size is the engine's choice.
#![allow(clippy::result_large_err)]

mod auth;
mod backoff;
mod cancel;
mod config;
mod conn;
mod encode;
mod error;
mod extended;
#[cfg(test)]
mod fuzz_wire;
mod handler;
mod hba;
mod limit;
mod server;
mod simple;
mod tls;

/// Statements allocate many short-lived buffers (parse trees, rows);
/// mimalloc handles that pattern markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use config::{Cli, Command};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref());

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("joltdb")
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("joltdb: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };

    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(server::run(cli.serve)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("joltdb: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|err| {
            eprintln!("joltdb: invalid --log-level {level:?} ({err}); using info");
            EnvFilter::new("info")
        }),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
