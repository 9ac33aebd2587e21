//! Each hook's input: a MessagePack map, written by the host and read by
//! the guest, declared once per input with [`input_map!`]. Readers skip
//! keys they do not know (a later host may add some).

use vampire_msgpack::{Reader, Writer};

use crate::error::AbiError;
use crate::fields::{AbiField, input_map};

input_map! {
    /// A member, as hooks and the `member` import describe it:
    /// `{"session", "user_id", "name", "claims"}`.
    #[derive(Copy)]
    pub struct Member<'a>: "a member" {
        /// Session id.
        session: u64, required;
        /// The authenticated user id; nil without authentication.
        user_id: Option<&'a str>;
        /// The display name from the token; nil without one.
        name: Option<&'a str>;
        /// The token's claims (a map), as MessagePack; nil without a
        /// token.
        claims: &'a [u8];
    }
}

impl Default for Member<'_> {
    fn default() -> Self {
        <Member<'_> as AbiField<'_>>::ABSENT
    }
}

input_map! {
    /// The room, as `vampire_create` and the `room` import describe it.
    #[derive(Copy)]
    pub struct RoomView<'a>: "a room" {
        /// Room id.
        room: &'a str;
        /// Room type (the plugin's name).
        room_type: &'a str;
        /// Display name.
        name: &'a str;
        /// Listed by `list_rooms` (when not locked).
        public: bool;
        /// Locked: refuses joins, not listed.
        locked: bool;
        /// Member limit.
        max_clients: u32;
        /// Members now.
        member_count: u32;
        /// Listing metadata, as MessagePack.
        metadata: &'a [u8];
        /// Session that created the room; 0 for a room created for a
        /// client of another node of a cluster (it has no session here).
        owner: u64;
    }
}

impl Default for RoomView<'_> {
    fn default() -> Self {
        <RoomView<'_> as AbiField<'_>>::ABSENT
    }
}

/// Why a room's instance is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The room was just created.
    New,
    /// The instance is re-created after a trap.
    Recreated,
    /// The plugin was replaced by a new version (hot reload).
    Reloaded,
}

impl Start {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Start::New => "new",
            Start::Recreated => "recreated",
            Start::Reloaded => "reloaded",
        }
    }

    /// The start spelt `text`; [`Start::New`] for any other text.
    pub fn parse(text: &str) -> Start {
        match text {
            "recreated" => Start::Recreated,
            "reloaded" => Start::Reloaded,
            _ => Start::New,
        }
    }
}

impl<'a> AbiField<'a> for Start {
    const ABSENT: Start = Start::New;

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.str(self.as_str());
    }

    fn read(reader: &mut Reader<'a>) -> Result<Start, AbiError> {
        Ok(Start::parse(reader.str()?))
    }
}

input_map! {
    /// Input of `vampire_create`.
    pub struct Create<'a>: "a create" {
        /// The room.
        room: RoomView<'a>;
        /// Why the instance is created.
        start: Start;
        /// The `options` value of `create_room` (nil when none), as
        /// MessagePack.
        options: &'a [u8];
        /// The members already in the room (none for a new room).
        members: Vec<Member<'a>>;
    }
}

input_map! {
    /// Input of `vampire_join`.
    #[derive(Copy)]
    pub struct Join<'a>: "a join" {
        /// Who asks to join.
        member: Member<'a>, required;
        /// The `options` value of `join` (nil when none), as MessagePack.
        options: &'a [u8];
    }
}

input_map! {
    /// Input of `vampire_leave`.
    #[derive(Copy)]
    pub struct Leave<'a>: "a leave" {
        /// Who left.
        session: u64, required;
        /// `"left"`, `"disconnected"`, `"timeout"` (its connection dropped
        /// and it did not resume in time) or `"kicked"`.
        reason: &'a str;
    }
}

input_map! {
    /// The `call` of `vampire_invoke`: `{"method": name, "args": value}`,
    /// a map of its own so that a guest can decode it straight into an
    /// enum of its methods (serde's adjacently tagged representation)
    /// without an intermediate value.
    #[derive(Copy)]
    pub struct Call<'a>: "a call" {
        /// The method's name.
        method: &'a str;
        /// The arguments as the client sent them (nil when absent).
        args: &'a [u8];
    }
}

/// Input of `vampire_invoke`: `{"session", "call": {"method", "args"}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invoke<'a> {
    /// The calling member.
    pub session: u64,
    /// The method's name.
    pub method: &'a str,
    /// The arguments as the client sent them (nil when absent).
    pub args: &'a [u8],
}

impl<'a> Invoke<'a> {
    /// Appends `{"session", "call": {"method", "args"}}` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.map(2).str("session").uint(self.session).str("call");
        Call { method: self.method, args: self.args }.write(&mut w);
    }

    /// Reads what [`Invoke::encode_into`] wrote; also returns the bytes of
    /// the `call` map, for a guest to decode into its methods.
    ///
    /// # Errors
    /// When `bytes` is not such a map.
    pub fn decode(bytes: &'a [u8]) -> Result<(Invoke<'a>, &'a [u8]), AbiError> {
        let mut reader = Reader::new(bytes);
        let (mut session, mut call) = (None, None);
        for _ in 0..reader.map_len()? {
            match reader.str()? {
                "session" => session = Some(reader.u64()?),
                "call" => call = Some(reader.raw()?),
                _ => reader.skip()?,
            }
        }
        let missing = |key| AbiError(format!("an invoke input without `{key}`"));
        let call_bytes = call.ok_or_else(|| missing("call"))?;
        let Call { method, args } = Call::decode(call_bytes)?;
        let session = session.ok_or_else(|| missing("session"))?;
        Ok((Invoke { session, method, args }, call_bytes))
    }
}

input_map! {
    /// Input of `vampire_message`.
    #[derive(Copy)]
    pub struct Message<'a>: "a message" {
        /// The sender.
        session: u64, required;
        /// Whether it came over UDP (and may have been preceded by lost
        /// ones).
        unreliable: bool;
        /// The message as the client sent it.
        data: &'a [u8];
    }
}

input_map! {
    /// Input of `vampire_tick`.
    #[derive(Copy)]
    pub struct Tick: "a tick" {
        /// Real milliseconds since the previous tick (missed ticks are
        /// coalesced into one, so this may be several periods).
        dt_ms: u64;
        /// Ticks delivered since the clock was started.
        count: u64;
    }
}

input_map! {
    /// Input of `vampire_disconnect` and `vampire_reconnect`. The reply of
    /// `vampire_disconnect` is how many milliseconds the room holds the
    /// member's seat (0: it leaves now, reason `"disconnected"`; capped at
    /// the server's window), or nil for the server's window; when the
    /// time passes, the member leaves with reason `"timeout"`.
    #[derive(Copy)]
    pub struct Presence: "a presence change" {
        /// The member whose connection dropped, or who came back.
        session: u64, required;
    }
}

input_map! {
    /// Input of `vampire_timer`.
    #[derive(Copy)]
    pub struct Timer<'a>: "a timer" {
        /// The timer's tag.
        tag: &'a str, required;
    }
}

input_map! {
    /// Input of `vampire_dispose`.
    #[derive(Copy)]
    pub struct Dispose<'a>: "a dispose" {
        /// `"deleted"` (by its owner), `"disposed"` (empty or unjoined),
        /// `"closed"` (by the server) or `"shutdown"`.
        reason: &'a str;
    }
}

input_map! {
    /// Input of `vampire_can_set_variable`. The reply's `ok` value is a
    /// boolean: `true` lets the member set the variable.
    #[derive(Copy)]
    pub struct CanSetVariable<'a>: "a can_set_variable" {
        /// The member setting it.
        session: u64;
        /// The variable.
        name: &'a str;
        /// Whether the variable exists already.
        exists: bool;
        /// The value it would take.
        value: &'a [u8];
    }
}

/// Binary bytes (a MessagePack `bin`), as the snapshot a reload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary<'a>(pub &'a [u8]);

impl<'a> AbiField<'a> for Binary<'a> {
    const ABSENT: Binary<'a> = Binary(&[]);

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.bin(self.0);
    }

    fn read(reader: &mut Reader<'a>) -> Result<Binary<'a>, AbiError> {
        Ok(Binary(reader.bin()?))
    }
}

input_map! {
    /// Input of `vampire_restore`: the state a `vampire_snapshot` of the
    /// previous version returned (its reply's `ok` value: binary).
    #[derive(Copy)]
    pub struct Restore<'a>: "a restore" {
        /// The snapshot's bytes.
        state: Binary<'a>, required;
    }
}
