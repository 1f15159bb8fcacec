//! A read-side guard that follows the protocol's message framing and fails
//! the connection as soon as a client announces a message longer than the
//! configured maximum, before any of it is buffered, or sends SQL text
//! (Query, Parse) that is not valid UTF-8.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The error a connection fails with when SQL text is not UTF-8.
#[derive(Debug)]
pub struct InvalidUtf8;

impl std::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid byte sequence for encoding \"UTF8\"")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Incremental UTF-8 validation of the text strings at the start of a
/// message body (up to its `strings`-th NUL).
#[derive(Debug, Default)]
struct TextCheck {
    strings_left: u8,
    carry: Vec<u8>,
}

impl TextCheck {
    fn active(&self) -> bool {
        self.strings_left > 0
    }

    fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.active() {
            return Ok(());
        }
        let mut end = data.len();
        for (i, b) in data.iter().enumerate() {
            if *b == 0 {
                self.strings_left -= 1;
                if self.strings_left == 0 {
                    end = i;
                    break;
                }
            }
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(&data[..end]);
        if let Err(e) = std::str::from_utf8(&buf) {
            // A sequence cut at the end of this read may complete in the next.
            if e.error_len().is_none() && self.active() {
                self.carry = buf[e.valid_up_to()..].to_vec();
            } else {
                return Err(io::Error::new(io::ErrorKind::InvalidData, InvalidUtf8));
            }
        }
        Ok(())
    }
}

/// Tracks message boundaries in the client's byte stream.
#[derive(Debug)]
struct Framing {
    max: usize,
    /// The first message (StartupMessage or CancelRequest) has no type
    /// byte; every later one has.
    typed: bool,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
    text: TextCheck,
}

impl Framing {
    fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(data.len());
                self.text.feed(&data[..n])?;
                self.body_left -= n;
                if self.body_left == 0 && !self.text.carry.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, InvalidUtf8));
                }
                data = &data[n..];
                continue;
            }
            let need = if self.typed { 5 } else { 4 };
            let n = (need - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len == need {
                let len_bytes: [u8; 4] = self.header[need - 4..need]
                    .try_into()
                    .expect("four length bytes");
                let len = u32::from_be_bytes(len_bytes) as usize;
                if len < 4 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("invalid message length {len}"),
                    ));
                }
                if len > self.max {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "message of {len} bytes exceeds the limit of {} bytes",
                            self.max
                        ),
                    ));
                }
                self.body_left = len - 4;
                self.text = TextCheck {
                    strings_left: match (self.typed, self.header[0]) {
                        (true, b'Q') => 1,
                        (true, b'P') => 2,
                        _ => 0,
                    },
                    carry: Vec::new(),
                };
                self.header_len = 0;
                self.typed = true;
            }
        }
        Ok(())
    }
}

/// Wraps a client stream, checking the length of every incoming message.
#[derive(Debug)]
pub struct MessageLimit<T> {
    inner: T,
    framing: Framing,
    failed: bool,
}

impl<T> MessageLimit<T> {
    /// `already_read` are bytes of the stream read before wrapping it; the
    /// first message must start at their beginning.
    pub fn new(inner: T, max: usize, already_read: &[u8]) -> io::Result<MessageLimit<T>> {
        let mut framing = Framing {
            max,
            typed: false,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
            text: TextCheck::default(),
        };
        framing.feed(already_read)?;
        Ok(MessageLimit {
            inner,
            framing,
            failed: false,
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MessageLimit<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "connection closed after an invalid message",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if let Err(e) = this.framing.feed(&buf.filled()[before..]) {
                    this.failed = true;
                    buf.set_filled(before);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MessageLimit<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let mut m = 8u32.to_be_bytes().to_vec();
        m.extend_from_slice(&196608u32.to_be_bytes());
        m
    }

    #[test]
    fn follows_messages_split_anywhere() {
        let mut stream = startup();
        // Query of 100 bytes, then Sync.
        stream.push(b'Q');
        stream.extend_from_slice(&100u32.to_be_bytes());
        stream.extend_from_slice(&[b'x'; 96]);
        stream.extend_from_slice(&[b'S', 0, 0, 0, 4]);
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            let mut limit = MessageLimit::new((), 1000, a).unwrap();
            limit.framing.feed(b).unwrap();
            assert_eq!(limit.framing.body_left, 0);
            assert_eq!(limit.framing.header_len, 0);
        }
    }

    #[test]
    fn rejects_invalid_utf8_sql_text() {
        let query = |body: &[u8]| {
            let mut s = startup();
            s.push(b'Q');
            s.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
            s.extend_from_slice(body);
            s
        };
        assert!(MessageLimit::new((), 1000, &query("select 'é'\0".as_bytes())).is_ok());
        assert!(MessageLimit::new((), 1000, &query(b"select '\xff'\0")).is_err());
        // A multi-byte character split between reads is fine.
        let q = query("select 'é'\0".as_bytes());
        for split in 0..q.len() {
            let (a, b) = q.split_at(split);
            let mut limit = MessageLimit::new((), 1000, a).unwrap();
            limit.framing.feed(b).unwrap();
        }
        // Parse: only the two strings are text; parameter OIDs are binary.
        let mut s = startup();
        let body = [
            b"s\0select $1\0".as_slice(),
            &[0, 1, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        s.push(b'P');
        s.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        s.extend_from_slice(&body);
        assert!(MessageLimit::new((), 1000, &s).is_ok());
    }

    #[test]
    fn rejects_oversized_and_short_lengths() {
        let mut stream = startup();
        stream.push(b'Q');
        stream.extend_from_slice(&2000u32.to_be_bytes());
        assert!(MessageLimit::new((), 1000, &stream).is_err());
        let mut stream = startup();
        stream.extend_from_slice(&[b'Q', 0, 0, 0, 3]);
        assert!(MessageLimit::new((), 1000, &stream).is_err());
        // The limit applies to the first message too.
        assert!(MessageLimit::new((), 4, &startup()).is_err());
    }
}
