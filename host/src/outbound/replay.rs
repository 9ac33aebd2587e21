//! [`Replay`]: the frames most recently sent to one session, kept so that
//! a client whose connection dropped gets what it missed when it resumes.
//!
//! Numbers are implicit (PROTOCOL.md, "Sequence numbers"): the n-th
//! numbered frame sent to a session is number n. Only numbered frames
//! reach the replay (the reliable lane; not the welcome, a farewell or the
//! answer to `resume`), so its count and the client's agree. Entries are
//! the buffers the members' queues share, one or more frames each, with
//! their frame count, taken when the entry arrives (the buffer was just
//! written, so reading its length prefixes then is cheap; by the time the
//! entry leaves they are cold).
//!
//! A client that acknowledges what it handled (`ack`) lets the replay drop
//! those frames at once: what a live session keeps is then what arrived
//! since its last ack (the clients ack every 100 ms) instead of
//! `replayBytes`, which matters for the CPU as much as for memory: the
//! longer a buffer is kept, the colder it is when it is let go (acks every
//! 2 s, 500 ms and 100 ms cost +9%, +4% and about 0% against keeping
//! nothing; bench/README.md, scenario 15).

use std::collections::VecDeque;

use bytes::Bytes;
use vampire_protocol::frame::LENGTH_PREFIX;

/// Bytes one entry costs beside its frames (the handle on the buffer and
/// its count).
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>();

/// A buffer of whole frames and how many it holds.
#[derive(Debug)]
struct Entry {
    frames: Bytes,
    count: u64,
}

/// The recent numbered frames of one session, bounded in bytes.
#[derive(Debug)]
pub(crate) struct Replay {
    /// Buffers of whole frames, oldest first.
    entries: VecDeque<Entry>,
    /// What `entries` costs, overhead included.
    bytes: usize,
    /// What it may cost at most (`reconnect.replayBytes`).
    budget: usize,
    /// Frames dropped from the front: the number of the last one.
    evicted: u64,
}

/// What a resume gets back.
#[derive(Debug)]
pub(crate) enum Missed {
    /// The frames after the client's last, in order (possibly none).
    Frames(Vec<Bytes>),
    /// The gap is more than the replay kept (or the client claims more
    /// than was sent): the client must be given the rooms' state.
    Gap,
}

impl Replay {
    /// An empty replay of at most `budget` bytes.
    pub(crate) fn new(budget: usize) -> Replay {
        Replay { entries: VecDeque::new(), bytes: 0, budget, evicted: 0 }
    }

    /// Keeps `frames` (one or more whole numbered frames), dropping the
    /// oldest entries past the budget.
    pub(crate) fn push(&mut self, frames: Bytes) {
        self.bytes += frames.len() + ENTRY_OVERHEAD;
        self.entries.push_back(Entry { count: count_frames(&frames), frames });
        while self.bytes > self.budget {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= oldest.frames.len() + ENTRY_OVERHEAD;
            self.evicted += oldest.count;
        }
    }

    /// Lets go of the entries whose frames are all numbered `seq` or
    /// below (the client has them), moving their buffers to `released`
    /// for the caller to drop once it no longer holds the session's lock:
    /// they are the buffers' last references, cold by now, and freeing
    /// them under the lock would keep the room's sends waiting. An entry
    /// holding frames on both sides of `seq` stays whole (`after` skips
    /// into it).
    ///
    /// # Errors
    /// When `seq` is past the last frame sent (the client counted frames
    /// it was not sent): returns that frame's number. The frames before
    /// it are let go all the same, so a resume from the claimed number
    /// finds a gap.
    pub(crate) fn acknowledge(&mut self, seq: u64, released: &mut Vec<Bytes>) -> Result<(), u64> {
        while self.evicted < seq {
            let Some(oldest) = self.entries.front() else { return Err(self.evicted) };
            if self.evicted + oldest.count > seq {
                break;
            }
            self.bytes -= oldest.frames.len() + ENTRY_OVERHEAD;
            self.evicted += oldest.count;
            released.extend(self.entries.pop_front().map(|entry| entry.frames));
        }
        Ok(())
    }

    /// Bytes kept now, overhead included.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The number of the last frame sent.
    pub(crate) fn last_seq(&self) -> u64 {
        self.evicted + self.entries.iter().map(|entry| entry.count).sum::<u64>()
    }

    /// The frames numbered after `last_seq`.
    pub(crate) fn after(&self, last_seq: u64) -> Missed {
        if last_seq < self.evicted {
            return Missed::Gap;
        }
        let mut seq = self.evicted;
        let mut missed = Vec::new();
        for Entry { frames, count } in &self.entries {
            if seq + count <= last_seq {
                seq += count;
                continue;
            }
            if seq >= last_seq {
                missed.push(frames.clone());
            } else {
                let skip = skip_frames(frames, (last_seq - seq) as usize);
                missed.push(frames.slice(skip..));
            }
            seq += count;
        }
        if seq < last_seq { Missed::Gap } else { Missed::Frames(missed) }
    }
}

/// How many length-prefixed frames `buf` holds (whole frames, as the
/// server writes them).
fn count_frames(buf: &[u8]) -> u64 {
    let (mut at, mut count) = (0, 0);
    while at + LENGTH_PREFIX <= buf.len() {
        let len = u32::from_be_bytes(buf[at..at + LENGTH_PREFIX].try_into().expect("4 bytes"));
        at += LENGTH_PREFIX + len as usize;
        count += 1;
    }
    count
}

/// The offset in `buf` after its first `frames` frames.
fn skip_frames(buf: &[u8], frames: usize) -> usize {
    let mut at = 0;
    for _ in 0..frames {
        let len = u32::from_be_bytes(buf[at..at + LENGTH_PREFIX].try_into().expect("4 bytes"));
        at += LENGTH_PREFIX + len as usize;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    /// Frames numbered `from..to`, each a body holding its number.
    fn frames(from: u8, to: u8) -> Bytes {
        let mut buf = BytesMut::new();
        for n in from..to {
            buf.extend_from_slice(&1u32.to_be_bytes());
            buf.extend_from_slice(&[n]);
        }
        buf.freeze()
    }

    fn numbers(missed: Missed) -> Vec<u8> {
        let Missed::Frames(entries) = missed else { panic!("a gap") };
        entries.iter().flat_map(|e| e.chunks(5).map(|f| f[4]).collect::<Vec<_>>()).collect()
    }

    #[test]
    fn frames_after_a_number_come_back_in_order_even_mid_entry() {
        let mut replay = Replay::new(1 << 20);
        replay.push(frames(1, 4));
        replay.push(frames(4, 5));
        replay.push(frames(5, 8));
        assert_eq!(replay.last_seq(), 7);
        assert_eq!(numbers(replay.after(0)), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(numbers(replay.after(2)), [3, 4, 5, 6, 7]);
        assert_eq!(numbers(replay.after(5)), [6, 7]);
        assert!(numbers(replay.after(7)).is_empty());
        assert!(matches!(replay.after(8), Missed::Gap));
    }

    #[test]
    fn an_ack_drops_the_whole_entries_it_covers_and_one_past_the_end_is_refused() {
        let mut replay = Replay::new(1 << 20);
        replay.push(frames(1, 4));
        replay.push(frames(4, 6));
        let two_entries = replay.bytes();
        assert_eq!(replay.acknowledge(2, &mut Vec::new()), Ok(()));
        assert_eq!(replay.bytes(), two_entries, "entry 1..=3 holds frame 3, not yet acked");
        assert_eq!(numbers(replay.after(2)), [3, 4, 5]);
        assert_eq!(replay.acknowledge(3, &mut Vec::new()), Ok(()));
        assert_eq!(replay.bytes(), 10 + ENTRY_OVERHEAD);
        assert!(matches!(replay.after(2), Missed::Gap));
        assert_eq!(numbers(replay.after(3)), [4, 5]);
        assert_eq!(replay.acknowledge(1, &mut Vec::new()), Ok(()), "an older ack changes nothing");
        assert_eq!(replay.acknowledge(9, &mut Vec::new()), Err(5));
        assert_eq!(replay.bytes(), 0);
        assert_eq!(replay.last_seq(), 5);
    }

    #[test]
    fn the_budget_drops_the_oldest_and_an_older_number_is_a_gap() {
        let mut replay = Replay::new(2 * (10 + ENTRY_OVERHEAD));
        for n in 0..4 {
            replay.push(frames(2 * n + 1, 2 * n + 3));
        }
        assert!(replay.bytes() <= 2 * (10 + ENTRY_OVERHEAD));
        assert_eq!(replay.last_seq(), 8);
        assert!(matches!(replay.after(3), Missed::Gap));
        assert_eq!(numbers(replay.after(4)), [5, 6, 7, 8]);
    }
}
