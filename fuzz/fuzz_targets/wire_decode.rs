//! Client bytes through the framing guard, pgwire's frontend decoder and
//! the SCRAM message parser (see server/src/fuzz_wire.rs).

#![no_main]

#[path = "../../server/src/limit.rs"]
#[allow(dead_code)]
mod limit;

#[path = "../../server/src/fuzz_wire.rs"]
mod fuzz_wire;

libfuzzer_sys::fuzz_target!(init: {
    // libFuzzer's hook aborts on any panic, even one caught. The harness
    // catches pgwire decoder panics as the server does; any other panic
    // still reaches libFuzzer's own catch and aborts.
    std::panic::set_hook(Box::new(|_| {}));
}, |data: &[u8]| {
    fuzz_wire::feed(data);
});
