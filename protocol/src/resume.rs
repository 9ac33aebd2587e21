//! [`ResumeResult`]: the answer to `resume`, which gives a new connection
//! the session of one that dropped.
//!
//! Sequence numbers are implicit: the n-th numbered frame the server
//! sends a session (across all its connections) is number n. A frame is
//! numbered unless it is the welcome, a farewell (`"closing": true`) or an
//! unreliable event (`"unreliable": true`); [`crate::ServerMessage::decode_numbered`]
//! says which. Numbers are not written in the frames, so that a broadcast
//! stays one buffer shared by every member.

use bytes::BufMut;

use crate::decode::{DecodeError, MapReader, missing};
use crate::ids::{RoomId, SessionId};
use crate::msgpack::{Reader, Writer};
use crate::payload::Payload;

/// What a successful `resume` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeResult {
    /// The session taken back (the id other members know it by).
    pub session: SessionId,
    /// The token for the next resume: each one is good once.
    pub resume_token: String,
    /// Whether the frames missed were more than the server kept: then
    /// none is replayed, and each of `rooms` sends a `room_state` event.
    pub resync: bool,
    /// The number of the last numbered frame before those that follow:
    /// `last_seq` when replaying; the server's own count on a resync.
    pub seq: u64,
    /// Numbered frames replayed right after this answer.
    pub replayed: u64,
    /// Requests the session has read, over all its connections: a client
    /// that counted its requests knows that those after this many never
    /// reached the server (and may be sent again), and that every one
    /// before is answered (replayed, or still to come).
    pub requests_read: u64,
    /// The rooms the session is still a member of.
    pub rooms: Vec<RoomId>,
}

impl ResumeResult {
    /// Writes the result map.
    pub fn write<B: BufMut>(&self, w: &mut Writer<'_, B>) {
        w.map(7).str("session").uint(self.session);
        w.str("resume_token").str(&self.resume_token);
        w.str("resync").bool(self.resync);
        w.str("seq").uint(self.seq).str("replayed").uint(self.replayed);
        w.str("requests_read").uint(self.requests_read);
        w.str("rooms").array(self.rooms.len());
        for room in &self.rooms {
            w.str(room);
        }
    }

    /// Bytes [`ResumeResult::write`] takes at most.
    pub fn encoded_size_bound(&self) -> usize {
        128 + self.resume_token.len() + self.rooms.iter().map(|r| r.len() + 5).sum::<usize>()
    }

    /// Decodes a `resume` result.
    ///
    /// # Errors
    /// When the payload is not such a map.
    pub fn from_payload(payload: &Payload) -> Result<ResumeResult, DecodeError> {
        let body = payload.clone().into_bytes();
        let mut reader = Reader::new(&body);
        let mut map = MapReader::new(&body, &mut reader)?;
        let mut result = ResumeResult::default();
        let mut token = None;
        while let Some(key) = map.key()? {
            match key {
                "session" => result.session = map.u64()?,
                "resume_token" => token = Some(map.str()?),
                "resync" => result.resync = map.bool()?,
                "seq" => result.seq = map.u64()?,
                "replayed" => result.replayed = map.u64()?,
                "requests_read" => result.requests_read = map.u64()?,
                "rooms" => {
                    let len = map.reader.array_len()?;
                    for _ in 0..len {
                        result.rooms.push(map.str()?);
                    }
                }
                _ => map.skip()?,
            }
        }
        result.resume_token =
            token.map_or_else(|| missing("a resume result", "resume_token"), Ok)?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_decodes_to_what_was_written() {
        let result = ResumeResult {
            session: 7,
            resume_token: "t0k".into(),
            resync: true,
            seq: 1 << 40,
            replayed: 0,
            requests_read: 12,
            rooms: vec!["r1".into(), "n2-r2".into()],
        };
        let mut buf = Vec::new();
        result.write(&mut Writer::new(&mut buf));
        let payload = Payload::from_bytes(buf.into()).unwrap();
        assert_eq!(ResumeResult::from_payload(&payload).unwrap(), result);
    }
}
