//! A bare-bones PostgreSQL wire client for sending malformed input: it does
//! the start-up and SCRAM exchange, then lets a test write arbitrary bytes
//! and read back raw backend messages.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long to wait for the server to answer before calling it hung.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// One backend message: its type byte and body.
#[derive(Clone, Debug)]
pub struct Msg {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Msg {
    /// Field `code` (e.g. `b'C'` for the SQLSTATE) of an ErrorResponse or
    /// NoticeResponse.
    pub fn field(&self, code: u8) -> Option<String> {
        let mut rest = &self.body[..];
        while let Some((&c, tail)) = rest.split_first() {
            if c == 0 {
                break;
            }
            let end = tail.iter().position(|&b| b == 0)?;
            if c == code {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }

    /// The SQLSTATE of an ErrorResponse.
    pub fn sqlstate(&self) -> Option<String> {
        (self.tag == b'E').then(|| self.field(b'C')).flatten()
    }
}

/// What the server did after some input.
#[derive(Debug, Default)]
pub struct Reaction {
    /// Messages received, in order.
    pub messages: Vec<Msg>,
    /// The server closed the connection.
    pub closed: bool,
}

impl Reaction {
    pub fn sqlstates(&self) -> Vec<String> {
        self.messages.iter().filter_map(Msg::sqlstate).collect()
    }

    /// The transaction status of the final ReadyForQuery
    /// (`b'I'` idle, `b'T'` in a transaction, `b'E'` failed transaction).
    pub fn status(&self) -> Option<u8> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.tag == b'Z')
            .and_then(|m| m.body.first().copied())
    }

    /// Command tags of the CommandComplete messages.
    pub fn tags(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter(|m| m.tag == b'C')
            .map(|m| {
                String::from_utf8_lossy(m.body.split(|&b| b == 0).next().unwrap_or_default())
                    .into_owned()
            })
            .collect()
    }

    /// Message type bytes, in order, as characters.
    pub fn tags_seen(&self) -> String {
        self.messages.iter().map(|m| char::from(m.tag)).collect()
    }
}

pub struct RawConn {
    stream: TcpStream,
    buf: BytesMut,
    /// ParameterStatus values received during start-up.
    pub params: Vec<(String, String)>,
    /// Whether BackendKeyData was received during start-up.
    pub got_backend_key: bool,
}

impl RawConn {
    /// Opens a TCP connection without sending anything.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = tokio::time::timeout(READ_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        RawConn {
            stream,
            buf: BytesMut::new(),
            params: Vec::new(),
            got_backend_key: false,
        }
    }

    /// Connects, sends a start-up message and authenticates with SCRAM,
    /// returning once the server sent ReadyForQuery.
    pub async fn login(addr: SocketAddr, user: &str, password: &str) -> RawConn {
        let mut c = RawConn::connect(addr).await;
        let mut out = BytesMut::new();
        frontend::startup_message([("user", user), ("database", "joltdb")], &mut out)
            .expect("startup message");
        c.send(&out).await;

        let mut scram: Option<ScramSha256> = None;
        loop {
            let m = c
                .read_msg()
                .await
                .expect("server closed the connection during login");
            match m.tag {
                b'R' => {
                    let kind = i32::from_be_bytes(m.body[..4].try_into().unwrap());
                    let data = &m.body[4..];
                    let mut out = BytesMut::new();
                    match kind {
                        0 => {}
                        10 => {
                            let offered = String::from_utf8_lossy(data);
                            assert!(
                                offered.split('\0').any(|mech| mech == SCRAM_SHA_256),
                                "server does not offer SCRAM-SHA-256: {offered:?}"
                            );
                            let s = ScramSha256::new(
                                password.as_bytes(),
                                ChannelBinding::unsupported(),
                            );
                            frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                                .unwrap();
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram.as_mut().expect("SASL continue before start");
                            s.update(data).expect("server-first message");
                            frontend::sasl_response(s.message(), &mut out).unwrap();
                        }
                        12 => {
                            let s = scram.as_mut().expect("SASL final before start");
                            s.finish(data).expect("server signature");
                        }
                        other => panic!("unexpected authentication request {other}"),
                    }
                    if !out.is_empty() {
                        c.send(&out).await;
                    }
                }
                b'E' => panic!("login failed: {:?}", m.field(b'M')),
                b'S' => {
                    let mut parts = m.body.split(|&b| b == 0);
                    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default());
                    let (k, v) = (next().into_owned(), next().into_owned());
                    c.params.push((k, v));
                }
                b'K' => c.got_backend_key = true,
                b'Z' => return c,
                _ => {}
            }
        }
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        // The server may already have closed the connection; tests look at
        // how it reacted, so a failed write is not itself an error.
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    /// The value of a ParameterStatus received during start-up.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sends a simple Query and reads up to ReadyForQuery.
    pub async fn simple(&mut self, sql: &str) -> Reaction {
        self.send_query_bytes(sql.as_bytes()).await;
        self.react().await
    }

    /// Sends a Query message with `sql` as raw bytes (no UTF-8 check).
    pub async fn send_query_bytes(&mut self, sql: &[u8]) {
        let mut msg = vec![b'Q'];
        let len = i32::try_from(4 + sql.len() + 1).expect("query too long");
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(sql);
        msg.push(0);
        self.send(&msg).await;
    }

    /// Closes the writing half, so the server sees end of input.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Reads one message; `None` when the server closed the connection.
    /// Panics if nothing arrives within [`READ_TIMEOUT`].
    pub async fn read_msg(&mut self) -> Option<Msg> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes(self.buf[1..5].try_into().unwrap());
                let len = usize::try_from(len).expect("negative message length from server");
                assert!(len >= 4, "bad message length from server");
                if self.buf.len() > len {
                    let tag = self.buf[0];
                    self.buf.advance(5);
                    let body = self.buf.split_to(len - 4).to_vec();
                    return Some(Msg { tag, body });
                }
            }
            let read = tokio::time::timeout(READ_TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("the server neither answered nor closed the connection");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads until ReadyForQuery or until the server closes the connection.
    pub async fn react(&mut self) -> Reaction {
        let mut r = Reaction::default();
        loop {
            match self.read_msg().await {
                None => {
                    r.closed = true;
                    return r;
                }
                Some(m) => {
                    let done = m.tag == b'Z';
                    r.messages.push(m);
                    if done {
                        return r;
                    }
                }
            }
        }
    }

    /// Reads until the server closes the connection, collecting messages.
    pub async fn until_closed(&mut self) -> Reaction {
        let mut r = Reaction::default();
        while let Some(m) = self.read_msg().await {
            r.messages.push(m);
        }
        r.closed = true;
        r
    }
}
