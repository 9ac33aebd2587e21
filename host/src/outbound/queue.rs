//! [`Queue`]: the frames waiting for one client's writer, bounded by its
//! owner, with the unreliable ones droppable (oldest first) to make room.

use std::collections::VecDeque;

use std::sync::Arc;

use bytes::Bytes;

use crate::outbound::link::Link;
use crate::outbound::replay::Replay;

/// A queued buffer of frames, and whether it may be dropped.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    /// One or more encoded frames, back to back.
    pub(crate) frames: Bytes,
    /// Unreliable data: dropped rather than queued when the client falls
    /// behind.
    pub(crate) droppable: bool,
}

impl From<Bytes> for Queued {
    fn from(frames: Bytes) -> Queued {
        Queued { frames, droppable: false }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Buffers in the order they go out.
    pub(crate) frames: VecDeque<Queued>,
    /// Bytes of all of them.
    pub(crate) bytes: usize,
    /// Bytes of the droppable entries among `frames`.
    pub(crate) droppable_bytes: usize,
    /// The connection whose writer drains `frames`; none while the
    /// session is held, when nothing is queued.
    pub(crate) link: Option<Arc<Link>>,
    /// The session's recent numbered frames, when sessions are held.
    pub(crate) replay: Option<Replay>,
}

impl Queue {
    /// Drops droppable entries, oldest first, until `fits` says the queue
    /// has room; returns how many it dropped.
    pub(crate) fn evict_droppable(&mut self, fits: impl Fn(&Queue) -> bool) -> u64 {
        let mut dropped = 0;
        let mut index = 0;
        while !fits(self) && self.droppable_bytes > 0 && index < self.frames.len() {
            if self.frames[index].droppable {
                let entry = self.frames.remove(index).expect("index is in range");
                self.bytes -= entry.frames.len();
                self.droppable_bytes -= entry.frames.len();
                dropped += 1;
            } else {
                index += 1;
            }
        }
        dropped
    }
}
