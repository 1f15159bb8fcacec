//! Feeds arbitrary client bytes through the read path every connection
//! uses before and after authentication: the framing guard
//! ([`crate::limit::MessageLimit`]), pgwire's frontend message decoder, and
//! the SCRAM parser that reads the client's SASL messages. Whatever the
//! bytes, each step must return a value or an error, never panic; the one
//! exception is pgwire's message decoding, whose panics on truncated
//! message bodies the server catches and reports as a malformed message.
//!
//! Shared by the `wire_decode` fuzz target (fuzz/) and the stable
//! random-input test below.

use crate::limit::MessageLimit;
use bytes::BytesMut;
use pgwire::api::auth::sasl::scram::{ScramSecret, ScramServerAuth};
use pgwire::api::{ClientInfo, DefaultClient, PgWireConnectionState};
use pgwire::messages::startup::PasswordMessageFamily;
use pgwire::messages::{PgWireFrontendMessage, SslNegotiationMetaMessage};
use pgwire::tokio::server::PgWireMessageServerCodec;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use tokio::io::AsyncReadExt;
use tokio_util::codec::Decoder;

/// A valid StartupMessage (protocol 3.0, user "fuzz"), for inputs that
/// start after the start-up.
const STARTUP: &[u8] = b"\0\0\0\x13\0\x03\0\0user\0fuzz\0\0";

/// Runs `data` through the read path. The first byte chooses the mode:
/// bit 0 set means the bytes follow a completed start-up (so they are
/// read as queries, Parse, Bind, ...), bits 1-2 the read size, bit 3 a
/// small message limit.
pub fn feed(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let after_startup = mode & 1 == 1;
    let chunk = [1usize, 7, 64, 4096][usize::from((mode >> 1) & 3)];
    let max = if mode & 8 == 8 { 256 } else { 1 << 20 };

    let mut stream = Vec::with_capacity(body.len() + STARTUP.len());
    if after_startup {
        stream.extend_from_slice(STARTUP);
    }
    stream.extend_from_slice(body);

    // The guard sees the stream in reads of `chunk` bytes and passes on
    // what it accepts.
    let mut passed = BytesMut::new();
    let Ok(mut guarded) = MessageLimit::new(&stream[..], max, &[]) else {
        return;
    };
    let mut buf = vec![0u8; chunk];
    loop {
        match futures::executor::block_on(guarded.read(&mut buf)) {
            Ok(0) | Err(_) => break,
            Ok(n) => passed.extend_from_slice(&buf[..n]),
        }
    }
    assert!(passed.len() <= stream.len());

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 5432));
    let mut codec = PgWireMessageServerCodec::<String>::new(DefaultClient::new(addr, false));
    codec
        .client_info
        .set_state(PgWireConnectionState::AwaitingSslRequest);
    // Bounded: every decoded message but the "no SSL request" marker
    // consumes at least one byte, and the marker moves the state on.
    for _ in 0..passed.len() + 2 {
        let before = passed.len();
        // The server turns a decoder panic into a protocol error for that
        // connection (see `serve_connection`); so does this harness.
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| codec.decode(&mut passed)));
        let message = match decoded {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None) | Err(_)) | Err(_) => break,
        };
        let marker = matches!(
            message,
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None)
        );
        assert!(
            marker || passed.len() < before,
            "a decoded message consumed nothing"
        );
        let next = match message {
            PgWireFrontendMessage::SslNegotiation(_) => PgWireConnectionState::AwaitingStartup,
            PgWireFrontendMessage::Startup(_) if after_startup => {
                PgWireConnectionState::ReadyForQuery
            }
            PgWireFrontendMessage::Startup(_) => PgWireConnectionState::AuthenticationInProgress,
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                // Caught by the server too: it runs start-up messages under
                // `catch_unwind` (pgwire's SASL body decoders can panic).
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| sasl_exchange(password)));
                PgWireConnectionState::ReadyForQuery
            }
            _ => continue,
        };
        codec.client_info.set_state(next);
    }
}

/// Interprets a password-family message the ways the server may: as a
/// cleartext password, and as the first and final SCRAM messages.
fn sasl_exchange(password: PasswordMessageFamily) {
    // The decoder leaves the body raw: which message it is depends on the
    // authentication method.
    let PasswordMessageFamily::Raw(body) = password else {
        return;
    };
    let _ = PasswordMessageFamily::Raw(body.clone()).into_password();
    let _ = PasswordMessageFamily::Raw(body.clone()).into_sasl_response();
    let Ok(initial) = PasswordMessageFamily::Raw(body).into_sasl_initial_response() else {
        return;
    };
    let Some(data) = initial.data.as_deref() else {
        return;
    };
    let secret = ScramSecret::Verifier {
        salt: b"fuzz-salt".to_vec(),
        iterations: 4096,
        stored_key: vec![7; 32],
        server_key: vec![9; 32],
    };
    if let Ok((_, waiting)) =
        ScramServerAuth::new().on_client_first_message_with_secret(data, secret)
    {
        // The same bytes as a client-final message exercise its parser.
        let _ = waiting.on_client_final_message(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Well-formed client streams to mutate.
    fn seeds() -> Vec<Vec<u8>> {
        let msg = |tag: u8, body: &[u8]| {
            let mut m = vec![tag];
            m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
            m.extend_from_slice(body);
            m
        };
        let ssl = [0, 0, 0, 8, 4, 210, 22, 47];
        let sasl_first = [
            b"SCRAM-SHA-256\0".as_slice(),
            &(32u32).to_be_bytes(),
            b"n,,n=,r=rOprNGfwEbeRWgbNEkqO%hvY",
        ]
        .concat();
        let parse = [b"s1\0SELECT $1::int\0".as_slice(), &[0, 1, 0, 0, 0, 23]].concat();
        let bind = [b"\0s1\0".as_slice(), &[0, 0, 0, 1, 0, 0, 0, 1, b'7', 0, 0]].concat();
        vec![
            [&[0u8][..], &ssl, STARTUP, &msg(b'p', &sasl_first)].concat(),
            [&[1u8][..], &msg(b'Q', b"SELECT 1\0")].concat(),
            [
                &[3u8][..],
                &msg(b'P', &parse),
                &msg(b'B', &bind),
                &msg(b'D', b"P\0"),
                &msg(b'E', b"\0\0\0\0\0"),
                &msg(b'S', b""),
                &msg(b'X', b""),
            ]
            .concat(),
            [
                &[9u8][..],
                &msg(b'd', b"1\t2\n"),
                &msg(b'c', b""),
                &msg(b'f', b"no\0"),
            ]
            .concat(),
            [
                &[0u8][..],
                &[0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 1, 0, 0, 0, 2],
            ]
            .concat(),
        ]
    }

    fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = seeds[rng.gen_range(0..seeds.len())].clone();
        for _ in 0..rng.gen_range(1..6) {
            let len = data.len().max(1);
            match rng.gen_range(0..6) {
                0 => {
                    let i = rng.gen_range(0..len);
                    if let Some(b) = data.get_mut(i) {
                        *b ^= 1 << rng.gen_range(0..8);
                    }
                }
                1 => {
                    let i = rng.gen_range(0..len);
                    if let Some(b) = data.get_mut(i) {
                        *b = [0, 0xff, 0x7f, 0x80, b'\0', b'p'][rng.gen_range(0..6)];
                    }
                }
                2 => data.truncate(rng.gen_range(0..len)),
                3 => {
                    let i = rng.gen_range(0..=data.len());
                    let junk: Vec<u8> = (0..rng.gen_range(1..16)).map(|_| rng.gen()).collect();
                    data.splice(i..i, junk);
                }
                4 => {
                    let other = &seeds[rng.gen_range(0..seeds.len())];
                    data.extend_from_slice(&other[1..]);
                }
                _ => {
                    // An extreme length word somewhere.
                    let i = rng.gen_range(0..len);
                    let word = [0u32, 3, 4, 0x7fff_ffff, 0xffff_ffff][rng.gen_range(0..5)];
                    for (k, b) in word.to_be_bytes().into_iter().enumerate() {
                        if let Some(slot) = data.get_mut(i + k) {
                            *slot = b;
                        }
                    }
                }
            }
        }
        data
    }

    #[test]
    fn seeds_decode_cleanly() {
        for seed in seeds() {
            feed(&seed);
        }
    }

    /// 100k mutated and random client streams (more with
    /// JOLTDB_FUZZ_ITERATIONS): none may panic.
    #[test]
    fn random_client_bytes_never_panic() {
        let iterations: usize = std::env::var("JOLTDB_FUZZ_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let seeds = seeds();
        let seed = rand::random::<u64>();
        let mut rng = StdRng::seed_from_u64(seed);
        for i in 0..iterations {
            let data = if i % 4 == 0 {
                (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
            } else {
                mutate(&mut rng, &seeds)
            };
            let outcome = std::panic::catch_unwind(|| feed(&data));
            assert!(
                outcome.is_ok(),
                "panic on input {data:?} (rng seed {seed}, iteration {i})"
            );
        }
    }
}
