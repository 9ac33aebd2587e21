//! # `chat`: the seed's custom room
//!
//! The smallest useful plugin, and a guide to writing one:
//!
//! - **Join**: every newcomer gets a welcome message (by name, on a server
//!   that authenticates), then the default
//!   behaviour runs (the server tells the other members who joined).
//! - **Messages** are relayed to every member, the sender included, as
//!   they came, and the last few are kept so that `history` can return
//!   them.
//! - **Variables**: `messages` counts what was said; it is broadcast, so
//!   every member sees the count change, and only the room may set it.
//!
//! Build: `cargo build -p chat --target wasm32-unknown-unknown --release`,
//! then copy `chat.wasm` into the server's plugins folder (`cargo serve`
//! does both). Clients create it with `room_type: "chat"`.

use std::collections::VecDeque;

use room_sdk::prelude::*;

/// How many messages `history` returns at most.
const HISTORY: usize = 20;

/// The room's own state. It lives in the plugin instance; what must
/// survive a crash (the message count) is kept in a room variable.
#[derive(Default)]
struct Chat {
    /// The last [`HISTORY`] messages, oldest first.
    history: VecDeque<Said>,
}

/// One message of the history.
#[derive(Serialize)]
#[serde(crate = "room_sdk::serde")]
struct Said {
    from: Session,
    data: Value,
}

/// What a newcomer is sent.
#[derive(Serialize)]
#[serde(crate = "room_sdk::serde")]
struct Welcome {
    welcome: String,
}

/// The room's methods.
#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// `history {last?}`: the last messages, oldest first.
    History {
        #[serde(default)]
        last: Option<usize>,
    },
}

impl Room for Chat {
    type Call = Call;

    fn join(&mut self, member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        // Sent to the newcomer only, right after its join response; by
        // name on a server that authenticates.
        let who = match (&member.name, &member.user_id) {
            (Some(name), _) => name.clone(),
            (None, Some(user_id)) => user_id.clone(),
            (None, None) => member.session.to_string(),
        };
        let welcome = format!("Welcome to the chat, {who}!");
        host::send(member.session, &Welcome { welcome })?;
        Ok(Reply::none())
    }

    fn message(&mut self, from: &Member, data: &Data, _unreliable: bool) -> Result<(), RoomError> {
        if data.is_nil() {
            return Err(RoomError::invalid_args("say something"));
        }
        self.history.push_back(Said { from: from.session, data: data.value() });
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
        let count = host::get_variable::<u64>("messages")?.unwrap_or(0) + 1;
        host::variable("messages").broadcast(true).set(&count)?;
        // The default behaviour: relay to every member, as it came.
        host::relay(from.session, data)
    }

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        match call {
            Call::History { last } => {
                let last = last.unwrap_or(HISTORY).min(HISTORY);
                let skip = self.history.len().saturating_sub(last);
                reply(&self.history.iter().skip(skip).collect::<Vec<_>>())
            }
        }
    }
}

room_sdk::export_room!(Chat);
