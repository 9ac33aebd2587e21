//! Queued frames written as binary messages, one per frame: the 4-byte
//! length prefix becomes a WebSocket header (formatted by tungstenite's
//! `FrameHeader`), and small frames are gathered into one buffer per
//! `write` call, as the TCP writer does. Tungstenite's control frames
//! (pongs, close replies) go out between whole frames.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Buf;
use tokio::io::{AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};
use vampire_protocol::frame;

use super::control::Control;
use crate::net::connection::{FrameSink, write_counted};
use crate::outbound::{ClientHandle, Queued};

/// Bytes gathered for one `write` call at most (a single larger frame
/// goes whole).
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Capacity the batch keeps once a large frame has gone.
const KEPT_BATCH_CAPACITY: usize = 128 * 1024;

/// The header of a server's binary message: final, unmasked.
const BINARY: FrameHeader = FrameHeader {
    is_final: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: OpCode::Data(Data::Binary),
    mask: None,
};

/// Queued frames written to the write half of a WebSocket.
pub(crate) struct MessageSink<S> {
    socket: WriteHalf<S>,
    /// Buffers taken from the queue, in order; the front one may be
    /// partly gathered (its gathered frames are gone from it).
    taken: VecDeque<Queued>,
    /// Messages gathered for one `write` call; `batch[sent..]` is still
    /// to go.
    batch: Vec<u8>,
    sent: usize,
    control: Arc<Control>,
}

impl<S> MessageSink<S> {
    /// A sink writing to `socket`, sending `control`'s frames too.
    pub(crate) fn new(socket: WriteHalf<S>, control: Arc<Control>) -> Self {
        MessageSink { socket, taken: VecDeque::new(), batch: Vec::new(), sent: 0, control }
    }

    /// Gathers control frames, then whole messages, into the batch.
    ///
    /// # Errors
    /// `InvalidData` if a queued buffer does not hold whole frames (the
    /// server only queues whole frames, so this is a bug).
    fn gather(&mut self) -> std::io::Result<()> {
        self.batch.clear();
        self.sent = 0;
        if self.batch.capacity() > KEPT_BATCH_CAPACITY {
            self.batch.shrink_to(WRITE_BATCH_BYTES);
        }
        self.control.take_into(&mut self.batch);
        while let Some(front) = self.taken.front_mut() {
            if self.batch.len() >= WRITE_BATCH_BYTES {
                break;
            }
            let frames = &mut front.frames;
            if frames.len() < frame::LENGTH_PREFIX {
                return Err(cut());
            }
            let len = u32::from_be_bytes([frames[0], frames[1], frames[2], frames[3]]) as usize;
            let body =
                frames.get(frame::LENGTH_PREFIX..frame::LENGTH_PREFIX + len).ok_or_else(cut)?;
            BINARY.format(len as u64, &mut self.batch).map_err(std::io::Error::other)?;
            self.batch.extend_from_slice(body);
            frames.advance(frame::LENGTH_PREFIX + len);
            if frames.is_empty() {
                self.taken.pop_front();
            }
        }
        Ok(())
    }
}

fn cut() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "a queued frame is cut")
}

impl<S: AsyncWrite + Send + 'static> FrameSink for MessageSink<S> {
    fn taken(&mut self) -> &mut VecDeque<Queued> {
        &mut self.taken
    }

    fn is_empty(&self) -> bool {
        self.taken.is_empty() && self.sent == self.batch.len() && !self.control.is_pending()
    }

    fn idle(&mut self) {
        (self.taken, self.batch, self.sent) = (VecDeque::new(), Vec::new(), 0);
    }

    fn wanted(&self) -> impl std::future::Future<Output = ()> + Send {
        let control: &Control = &self.control;
        control.pushed()
    }

    async fn write_some(&mut self, client: &ClientHandle) -> std::io::Result<()> {
        if self.sent == self.batch.len() {
            self.gather()?;
        }
        if self.sent < self.batch.len() {
            self.sent += write_counted(&mut self.socket, &self.batch[self.sent..], client).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.socket.flush().await
    }

    /// A close frame (1000) unless tungstenite already answered the
    /// client's, then the FIN.
    async fn close(&mut self) -> std::io::Result<()> {
        if !self.control.close_sent() {
            let mut close = Vec::new();
            Frame::close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))
                .format(&mut close)
                .map_err(std::io::Error::other)?;
            self.socket.write_all(&close).await?;
        }
        self.socket.shutdown().await
    }
}
