//! # `chat`: the seed's custom room
//!
//! The smallest useful plugin, and a guide to writing one:
//!
//! - **Join**: every newcomer gets a welcome message, then the default
//!   behaviour runs (the server tells the other members who joined).
//! - **Messages** are relayed to every member, the sender included, and
//!   the last few are kept so that `history` can return them.
//! - **Variables**: `messages` counts what was said; it is broadcast, so
//!   every member sees the count change.
//!
//! Build: `cargo build -p chat --target wasm32-unknown-unknown --release`,
//! then copy `chat.wasm` into the server's plugins folder (`cargo serve`
//! does both). Clients create it with `room_type: "chat"`.

use room_sdk::{Broadcast, Methods, Room, RoomError, Session, Value, host, json};
use serde::Deserialize;

/// How many messages `history` returns at most.
const HISTORY: usize = 20;

/// The room's own state. It lives in the plugin instance; what must
/// survive a crash (the message count) is kept in a room variable.
#[derive(Default)]
struct Chat {
    /// The last [`HISTORY`] messages, oldest first.
    history: Vec<Value>,
}

/// Arguments of `history`.
#[derive(Deserialize)]
struct HistoryArgs {
    /// How many messages to return (at most [`HISTORY`]).
    #[serde(default)]
    last: Option<usize>,
}

impl Chat {
    /// `history {last?}`: the last messages, oldest first.
    fn history(
        &mut self,
        _caller: Session,
        args: Option<HistoryArgs>,
    ) -> Result<Vec<Value>, RoomError> {
        let last = args.and_then(|a| a.last).unwrap_or(HISTORY).min(HISTORY);
        let skip = self.history.len().saturating_sub(last);
        Ok(self.history[skip..].to_vec())
    }
}

impl Room for Chat {
    fn join(&mut self, session: Session) -> Result<(), RoomError> {
        // Sent to the newcomer only, right after its join response.
        host::send(session, &json!({ "welcome": format!("Welcome to the chat, {session}!") }));
        Ok(())
    }

    fn message(&mut self, from: Session, data: Value) -> Result<(), RoomError> {
        if data.is_null() {
            return Err(RoomError::invalid_args("say something"));
        }
        self.history.push(json!({ "from": from, "data": data.clone() }));
        if self.history.len() > HISTORY {
            self.history.remove(0);
        }
        let count = host::get_variable::<u64>("messages").unwrap_or(0) + 1;
        host::set_variable("messages", &count, Broadcast::Yes);
        // The default behaviour: relay to every member.
        host::relay(from, &data);
        Ok(())
    }

    fn methods(methods: &mut Methods<Self>) {
        methods.add("history", Self::history);
    }
}

room_sdk::export_room!(Chat);
