//! The byte-stream transport (TCP, and TLS over it): frames are
//! MessagePack bodies behind a 4-byte big-endian length
//! ([`vampire_protocol::frame`]), read from one buffer and written in
//! batches.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vampire_protocol::{ErrorCode, frame};

use crate::metrics::Metrics;
use crate::net::connection::{FrameSink, FrameSource, Refused, write_counted};
use crate::outbound::{ClientHandle, Queued};
use std::sync::Arc;

/// Bytes of small frames gathered into one `write` call at most.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// A queued buffer at least this long is written as it is, not copied
/// into a batch.
const LARGE_WRITE_BYTES: usize = 16 * 1024;

/// The least space the reader offers a read: what an idle or quiet
/// connection's buffer holds (a `ping` is 15 bytes).
const READ_CHUNK_MIN: usize = 64;

/// The most space the reader offers a read: a busy connection's.
const READ_CHUNK_MAX: usize = 16 * 1024;

/// Length-prefixed frames read from a byte stream.
///
/// The read buffer follows the connection's pace: each read is offered
/// `chunk` bytes, doubled (up to [`READ_CHUNK_MAX`]) after a read that
/// filled what it was offered and halved (down to [`READ_CHUNK_MIN`])
/// after one that used less than an eighth; once every frame is taken, a
/// buffer far larger than the chunk is let go. A connection that sends a
/// frame now and then holds a few dozen bytes (a request longer than the
/// chunk takes a read or two more), a busy one reads in 16 KiB runs (a
/// fixed 16 KiB buffer per connection was most of the memory of 10 000
/// quiet clients).
pub(crate) struct StreamFrames<R> {
    reader: R,
    buf: BytesMut,
    /// The space the next read is offered.
    chunk: usize,
    max_frame_bytes: usize,
    metrics: Arc<Metrics>,
}

impl<R: AsyncRead + Unpin + Send> StreamFrames<R> {
    /// Frames of `reader`, each at most `max_frame_bytes` long.
    pub(crate) fn new(reader: R, max_frame_bytes: usize, metrics: Arc<Metrics>) -> Self {
        StreamFrames {
            reader,
            buf: BytesMut::new(),
            chunk: READ_CHUNK_MIN,
            max_frame_bytes,
            metrics,
        }
    }
}

impl<R: AsyncRead + Unpin + Send> FrameSource for StreamFrames<R> {
    fn next_buffered(&mut self) -> Result<Option<Bytes>, Refused> {
        frame::split(&mut self.buf, self.max_frame_bytes).map_err(|too_large| Refused {
            code: ErrorCode::FrameTooLarge,
            message: format!(
                "a frame of {} bytes is longer than the server's maximum of {}",
                too_large.announced, self.max_frame_bytes
            ),
        })
    }

    async fn receive(&mut self) -> std::io::Result<bool> {
        if self.buf.is_empty() && self.buf.capacity() > 4 * self.chunk {
            // Frames taken from it may still hold the old buffer; it goes
            // when they do.
            self.buf = BytesMut::new();
        }
        if self.buf.capacity() - self.buf.len() < self.chunk {
            self.buf.reserve(self.chunk);
        }
        let offered = self.buf.capacity() - self.buf.len();
        let read = self.reader.read_buf(&mut self.buf).await?;
        self.metrics.received(read);
        if read == offered {
            self.chunk = (self.chunk * 2).min(READ_CHUNK_MAX);
        } else if read < self.chunk / 8 {
            self.chunk = (self.chunk / 2).max(READ_CHUNK_MIN);
        }
        Ok(read > 0)
    }

    fn mid_frame(&self) -> bool {
        !self.buf.is_empty()
    }
}

/// Queued frames written to a byte stream as they are: small ones
/// gathered into one buffer per `write` call, large ones written whole.
pub(crate) struct StreamSink<W> {
    socket: W,
    /// Buffers taken from the queue, in order, not yet started.
    taken: VecDeque<Queued>,
    /// Small buffers gathered for one `write` call; `batch[sent..]` is
    /// still to go, and goes before anything in `taken`.
    batch: Vec<u8>,
    sent: usize,
}

impl<W> StreamSink<W> {
    /// A sink writing to `socket`.
    pub(crate) fn new(socket: W) -> Self {
        StreamSink { socket, taken: VecDeque::new(), batch: Vec::new(), sent: 0 }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> FrameSink for StreamSink<W> {
    fn taken(&mut self) -> &mut VecDeque<Queued> {
        &mut self.taken
    }

    fn is_empty(&self) -> bool {
        self.taken.is_empty() && self.sent == self.batch.len()
    }

    fn idle(&mut self) {
        (self.taken, self.batch, self.sent) = (VecDeque::new(), Vec::new(), 0);
    }

    /// One `write` call: the rest of the batch, else a new batch of the
    /// small buffers at the front, else the large buffer at the front.
    /// (One plain write of a gathered buffer costs the kernel less than a
    /// vectored write of many small ones.)
    async fn write_some(&mut self, client: &ClientHandle) -> std::io::Result<()> {
        if self.sent == self.batch.len() {
            self.batch.clear();
            self.sent = 0;
            while let Some(Queued { frames: front, .. }) = self.taken.front() {
                if front.len() >= LARGE_WRITE_BYTES
                    || self.batch.len() + front.len() > WRITE_BATCH_BYTES
                {
                    break;
                }
                self.batch.extend_from_slice(front);
                self.taken.pop_front();
            }
        }
        if self.sent < self.batch.len() {
            self.sent += write_counted(&mut self.socket, &self.batch[self.sent..], client).await?;
        } else if let Some(Queued { frames: front, .. }) = self.taken.front_mut() {
            let written = write_counted(&mut self.socket, front, client).await?;
            front.advance(written);
            if front.is_empty() {
                self.taken.pop_front();
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.socket.flush().await
    }

    async fn close(&mut self) -> std::io::Result<()> {
        self.socket.shutdown().await
    }
}
