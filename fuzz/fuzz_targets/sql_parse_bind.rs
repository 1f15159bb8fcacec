//! SQL text through the engine's parser and binder (see
//! engine/tests/support/parse_bind.rs).

#![no_main]

#[path = "../../engine/tests/support/parse_bind.rs"]
mod parse_bind;

use std::sync::Mutex;
use std::sync::OnceLock;

static HARNESS: OnceLock<Mutex<parse_bind::ParseBind>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(|| Mutex::new(parse_bind::ParseBind::new()));
    harness
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .run(data);
});
