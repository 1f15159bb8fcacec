//! The `joltdb` binary: parses the command line, sets up logging and runs
//! the PostgreSQL-wire server (see [`server`]).

// Engine errors are passed along by value on the (cold) error path; their
// size is the engine's choice.
#![allow(clippy::result_large_err)]

mod auth;
mod backoff;
mod cancel;
mod cold;
mod config;
mod conn;
mod copy;
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

/// Stack size of the threads that parse, bind and run statements.
const STATEMENT_STACK_BYTES: usize = 32 << 20;

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
        // Statements are bound and run recursively; the engine bounds their
        // nesting (54001) so that it fits this stack. Untouched stack pages
        // cost no memory.
        .thread_stack_size(STATEMENT_STACK_BYTES)
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
        Command::Backup(args) => runtime.block_on(cold::backup(&cli.serve, &args)),
        Command::Restore(args) => runtime.block_on(cold::restore(&cli.serve, &args)),
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
