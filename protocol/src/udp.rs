//! The UDP channel's datagrams, shared by the server and clients.
//!
//! A client asks for UDP over its TCP connection (`udp_bind`) and gets a
//! session id and two random 32-byte keys, one per direction. Every
//! datagram is then:
//!
//! ```text
//! offset  size  field
//! 0       8     session id, big-endian (clear)
//! 8       8     sequence number, big-endian (clear), one per datagram and direction
//! 16      n     payload sealed with ChaCha20-Poly1305 (n = plaintext + 16-byte tag)
//! ```
//!
//! The nonce is the direction (4 bytes: 0 client to server, 1 server to
//! client) then the sequence number (8 bytes, big-endian); the associated
//! data is [`PROTOCOL_ID`] then the session id (8 bytes each, big-endian),
//! so a datagram authenticates its header too. A receiver accepts a
//! datagram only if it opens with the key of its direction and its
//! sequence is new ([`ReplayWindow`]). The whole datagram is at most
//! [`MAX_DATAGRAM_BYTES`].

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

/// Identifies this protocol in every datagram's associated data
/// (`"VAMPUDP1"` as a big-endian u64), so a datagram of another protocol
/// sharing keys by accident never authenticates.
pub const PROTOCOL_ID: u64 = u64::from_be_bytes(*b"VAMPUDP1");

/// Largest datagram, header and tag included: fits one packet on any
/// path (an IPv6 minimum MTU of 1280 less headers). Larger ones are
/// dropped.
pub const MAX_DATAGRAM_BYTES: usize = 1200;

/// Bytes of the clear header: session id and sequence number.
pub const HEADER_BYTES: usize = 16;

/// Bytes of the authentication tag.
pub const TAG_BYTES: usize = 16;

/// Largest plaintext a datagram can carry.
pub const MAX_PLAINTEXT_BYTES: usize = MAX_DATAGRAM_BYTES - HEADER_BYTES - TAG_BYTES;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;

/// Sequence numbers the replay window remembers behind the newest.
pub const REPLAY_WINDOW: u64 = 256;

/// Which way a datagram goes; part of its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a client to the server.
    ToServer,
    /// From the server to a client.
    ToClient,
}

impl Direction {
    fn tag(self) -> [u8; 4] {
        match self {
            Direction::ToServer => [0, 0, 0, 0],
            Direction::ToClient => [0, 0, 0, 1],
        }
    }
}

/// The clear header of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The UDP session.
    pub session: u64,
    /// The sender's sequence number.
    pub sequence: u64,
}

impl Header {
    /// Reads the header of `datagram`, if it is long enough to hold one and
    /// a tag, and not longer than [`MAX_DATAGRAM_BYTES`].
    pub fn read(datagram: &[u8]) -> Option<Header> {
        if datagram.len() < HEADER_BYTES + TAG_BYTES || datagram.len() > MAX_DATAGRAM_BYTES {
            return None;
        }
        let session = u64::from_be_bytes(datagram[0..8].try_into().ok()?);
        let sequence = u64::from_be_bytes(datagram[8..16].try_into().ok()?);
        Some(Header { session, sequence })
    }
}

/// One direction's key.
#[derive(Clone)]
pub struct SealKey {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

fn nonce(direction: Direction, sequence: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&direction.tag());
    nonce[4..].copy_from_slice(&sequence.to_be_bytes());
    nonce
}

fn associated_data(session: u64) -> [u8; 16] {
    let mut ad = [0u8; 16];
    ad[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    ad[8..].copy_from_slice(&session.to_be_bytes());
    ad
}

impl SealKey {
    /// A key from its 32 bytes.
    pub fn new(key: &[u8; KEY_BYTES]) -> SealKey {
        SealKey { cipher: ChaCha20Poly1305::new(Key::from_slice(key)) }
    }

    /// Builds the datagram carrying `plaintext` as `header`, going
    /// `direction`, into `out` (cleared first).
    ///
    /// # Errors
    /// When `plaintext` is longer than [`MAX_PLAINTEXT_BYTES`].
    pub fn seal(
        &self,
        direction: Direction,
        header: Header,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), TooLarge> {
        if plaintext.len() > MAX_PLAINTEXT_BYTES {
            return Err(TooLarge);
        }
        out.clear();
        out.extend_from_slice(&header.session.to_be_bytes());
        out.extend_from_slice(&header.sequence.to_be_bytes());
        out.extend_from_slice(plaintext);
        let nonce = nonce(direction, header.sequence);
        let ad = associated_data(header.session);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &ad, &mut out[HEADER_BYTES..])
            .map_err(|_| TooLarge)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens a datagram going `direction` in place: on success, the
    /// plaintext is `datagram[HEADER_BYTES..returned]`.
    ///
    /// # Errors
    /// When it does not authenticate (a wrong key, a changed byte, a
    /// header that is not its own) or is malformed.
    pub fn open(&self, direction: Direction, datagram: &mut [u8]) -> Result<usize, Unauthentic> {
        let header = Header::read(datagram).ok_or(Unauthentic)?;
        let end = datagram.len() - TAG_BYTES;
        let tag = Tag::clone_from_slice(&datagram[end..]);
        let nonce = nonce(direction, header.sequence);
        let ad = associated_data(header.session);
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &ad,
                &mut datagram[HEADER_BYTES..end],
                &tag,
            )
            .map_err(|_| Unauthentic)?;
        Ok(end)
    }
}

/// A plaintext too long for one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// A datagram that does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthentic;

/// Bits a [`ReplayWindow`] keeps: the newest and the [`REPLAY_WINDOW`]
/// before it.
const WINDOW_BITS: u64 = REPLAY_WINDOW + 1;

/// The sequence numbers a receiver has accepted: the newest, and which of
/// the [`REPLAY_WINDOW`] before it were seen.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// Newest accepted sequence, plus one (0: none yet).
    next: u64,
    /// Bit `i` set: sequence `next - 1 - i` was accepted (bits past
    /// [`WINDOW_BITS`] are never read).
    seen: [u64; WINDOW_BITS.div_ceil(64) as usize],
}

/// What a replay window says of a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Not seen before, and the newest yet.
    Newest,
    /// Not seen before, but older than the newest (reordered).
    Late,
    /// Seen already.
    Replayed,
    /// Older than the window remembers.
    Stale,
}

impl ReplayWindow {
    /// Says whether `sequence` is new, without recording it.
    pub fn check(&self, sequence: u64) -> Freshness {
        if sequence >= self.next {
            return Freshness::Newest;
        }
        let behind = self.next - 1 - sequence;
        if behind >= WINDOW_BITS {
            return Freshness::Stale;
        }
        if self.seen[(behind / 64) as usize] & (1 << (behind % 64)) != 0 {
            Freshness::Replayed
        } else {
            Freshness::Late
        }
    }

    /// Records `sequence` as accepted (after it authenticated).
    pub fn accept(&mut self, sequence: u64) {
        if sequence >= self.next {
            let shift = sequence + 1 - self.next;
            self.shift(shift);
            self.next = sequence + 1;
            self.seen[0] |= 1;
        } else {
            let behind = self.next - 1 - sequence;
            if behind < WINDOW_BITS {
                self.seen[(behind / 64) as usize] |= 1 << (behind % 64);
            }
        }
    }

    /// Moves every remembered sequence `by` places back.
    fn shift(&mut self, by: u64) {
        if by >= WINDOW_BITS {
            self.seen = Default::default();
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        let len = self.seen.len();
        for i in (0..len).rev() {
            let from = i.checked_sub(words);
            let high = from.map_or(0, |f| self.seen[f]);
            let low = from.and_then(|f| f.checked_sub(1)).map_or(0, |f| self.seen[f]);
            self.seen[i] = if bits == 0 { high } else { (high << bits) | (low >> (64 - bits)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_datagram_opens_with_its_key_and_direction_only() {
        let key = SealKey::new(&[7; 32]);
        let header = Header { session: 42, sequence: 9 };
        let mut datagram = Vec::new();
        key.seal(Direction::ToServer, header, b"hello", &mut datagram).unwrap();
        assert_eq!(datagram.len(), HEADER_BYTES + 5 + TAG_BYTES);
        assert_eq!(Header::read(&datagram), Some(header));
        let mut copy = datagram.clone();
        let end = key.open(Direction::ToServer, &mut copy).unwrap();
        assert_eq!(&copy[HEADER_BYTES..end], b"hello");
        assert!(key.open(Direction::ToClient, &mut datagram.clone()).is_err(), "other direction");
        assert!(SealKey::new(&[8; 32]).open(Direction::ToServer, &mut datagram.clone()).is_err());
        let mut forged = datagram.clone();
        forged[3] ^= 1; // another session id in the clear header
        assert!(key.open(Direction::ToServer, &mut forged).is_err());
        let mut big = Vec::new();
        assert_eq!(
            key.seal(Direction::ToServer, header, &[0; MAX_PLAINTEXT_BYTES + 1], &mut big),
            Err(TooLarge)
        );
    }

    #[test]
    fn the_replay_window_takes_each_sequence_once_and_forgets_the_old() {
        let mut window = ReplayWindow::default();
        assert_eq!(window.check(5), Freshness::Newest);
        window.accept(5);
        assert_eq!(window.check(5), Freshness::Replayed);
        assert_eq!(window.check(3), Freshness::Late);
        window.accept(3);
        assert_eq!(window.check(3), Freshness::Replayed);
        window.accept(300);
        assert_eq!(window.check(5), Freshness::Stale);
        assert_eq!(window.check(299), Freshness::Late);
        assert_eq!(window.check(100), Freshness::Late);
        window.accept(100);
        assert_eq!(window.check(100), Freshness::Replayed);
        window.accept(370);
        assert_eq!(window.check(100), Freshness::Stale);
        assert_eq!(window.check(300), Freshness::Replayed, "still within 256 of 370");
        assert_eq!(window.check(200), Freshness::Late);
    }

    /// Issue 17, item 12: the window keeps the newest and the full 256
    /// before it, as PROTOCOL.md says.
    #[test]
    fn item_12_the_replay_window_remembers_256_sequences_before_the_newest() {
        let mut window = ReplayWindow::default();
        window.accept(1000 - REPLAY_WINDOW);
        window.accept(1000);
        assert_eq!(window.check(1000 - REPLAY_WINDOW), Freshness::Replayed);
        assert_eq!(window.check(1000 - REPLAY_WINDOW + 1), Freshness::Late);
        assert_eq!(window.check(1000 - REPLAY_WINDOW - 1), Freshness::Stale);
        window.accept(1000 + REPLAY_WINDOW);
        assert_eq!(window.check(1000), Freshness::Replayed, "shifted by exactly 256");
        assert_eq!(window.check(1000 - 1), Freshness::Stale);
    }
}

/// What a client's datagram carries (its plaintext, a MessagePack map).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientDatagram {
    /// `{"op": "hello"}`: does nothing but bind (or rebind) the address
    /// the server sends this session's datagrams to.
    Hello,
    /// `{"op": "message", "room": id, "data": value}`: an unreliable
    /// message to a room the client is a member of.
    Message {
        /// The room.
        room: crate::ids::RoomId,
        /// The message.
        data: crate::Payload,
    },
}

impl ClientDatagram {
    /// The plaintext.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        let mut w = crate::msgpack::Writer::new(&mut out);
        match self {
            ClientDatagram::Hello => {
                w.map(1).str("op").str("hello");
            }
            ClientDatagram::Message { room, data } => {
                w.map(3)
                    .str("op")
                    .str("message")
                    .str("room")
                    .str(room)
                    .str("data")
                    .raw(data.as_bytes());
            }
        }
        out
    }

    /// Reads a plaintext; `None` when it is not one of these (the
    /// datagram is then dropped).
    pub fn decode(plaintext: &[u8]) -> Option<ClientDatagram> {
        crate::msgpack::validate(plaintext, crate::msgpack::MAX_NESTING + 1).ok()?;
        let mut reader = crate::msgpack::Reader::new(plaintext);
        let (mut op, mut room, mut data) = (None, None, None);
        for _ in 0..reader.map_len().ok()? {
            match reader.str().ok()? {
                "op" => op = Some(reader.str().ok()?),
                "room" => room = Some(reader.str().ok()?.to_owned()),
                "data" => {
                    let raw = reader.raw().ok()?;
                    data =
                        Some(crate::Payload::from_bytes(bytes::Bytes::copy_from_slice(raw)).ok()?);
                }
                _ => return None,
            }
        }
        match op? {
            "hello" => Some(ClientDatagram::Hello),
            "message" => Some(ClientDatagram::Message { room: room?, data: data? }),
            _ => None,
        }
    }
}

/// The result of `udp_bind`: how to reach the UDP port and the session's
/// keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Binding {
    /// The server's UDP port (on the address the TCP connection reached).
    pub port: u16,
    /// The UDP session id, in every datagram's header.
    pub session: u64,
    /// Key of datagrams the client sends.
    pub to_server_key: [u8; KEY_BYTES],
    /// Key of datagrams the server sends.
    pub to_client_key: [u8; KEY_BYTES],
    /// When the keys expire, in milliseconds since the Unix epoch: later
    /// datagrams are dropped, and the client binds again.
    pub expires_ms: u64,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Binding {{ port: {}, session: {}, expires_ms: {} }}",
            self.port, self.session, self.expires_ms
        )
    }
}

impl Binding {
    /// Writes `{"port", "session", "to_server_key", "to_client_key",
    /// "expires_ms"}` (keys as binary).
    pub fn write<B: bytes::BufMut>(&self, w: &mut crate::msgpack::Writer<'_, B>) {
        w.map(5).str("port").uint(self.port.into()).str("session").uint(self.session);
        w.str("to_server_key")
            .bin(&self.to_server_key)
            .str("to_client_key")
            .bin(&self.to_client_key);
        w.str("expires_ms").uint(self.expires_ms);
    }

    /// Decodes a `udp_bind` result.
    ///
    /// # Errors
    /// When the payload is not such a map.
    pub fn from_payload(payload: &crate::Payload) -> Result<Binding, crate::DecodeError> {
        let bad = |what: &str| crate::DecodeError(format!("a UDP binding with a bad `{what}`"));
        let mut reader = crate::msgpack::Reader::new(payload.as_bytes());
        let mut binding = Binding {
            port: 0,
            session: 0,
            to_server_key: [0; KEY_BYTES],
            to_client_key: [0; KEY_BYTES],
            expires_ms: 0,
        };
        for _ in 0..reader.map_len()? {
            match reader.str()? {
                "port" => binding.port = u16::try_from(reader.u64()?).map_err(|_| bad("port"))?,
                "session" => binding.session = reader.u64()?,
                "to_server_key" => {
                    binding.to_server_key =
                        reader.bin()?.try_into().map_err(|_| bad("to_server_key"))?;
                }
                "to_client_key" => {
                    binding.to_client_key =
                        reader.bin()?.try_into().map_err(|_| bad("to_client_key"))?;
                }
                "expires_ms" => binding.expires_ms = reader.u64()?,
                _ => reader.skip()?,
            }
        }
        Ok(binding)
    }
}
