//! A room that drives every part of the plugin platform on request, so the
//! tests can watch each: the clock (ticks and timers, reported to members
//! as messages), the lifecycle (create and join options, the join reply,
//! dispose), room control (lock, metadata, member limit) and variable
//! rules (room-only, hidden, `can_set_variable`).

use std::time::Duration;

use room_sdk::prelude::*;

#[derive(Default)]
struct Clockwork {
    /// Sessions allowed to set `score` (see `can_set_variable`).
    writers: Vec<Session>,
}

/// What the room tells its members, as `room_message` data.
#[derive(Serialize)]
#[serde(crate = "room_sdk::serde", rename_all = "snake_case")]
enum Notice<'a> {
    Tick {
        count: u64,
        dt_ms: u64,
    },
    Timer(&'a str),
    Disposed(&'a str),
    /// A member's message and how it came.
    Message {
        from: Session,
        unreliable: bool,
    },
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    SetTick {
        hz: u32,
    },
    SetTimer {
        tag: String,
        ms: u64,
        repeat: bool,
    },
    CancelTimer {
        tag: String,
    },
    Lock {
        locked: bool,
    },
    SetMetadata {
        metadata: Value,
    },
    SetMaxClients {
        max_clients: u32,
    },
    /// A hidden variable only the room reads.
    SetSecret {
        value: Value,
    },
    /// A broadcast variable only the room writes.
    SetShared {
        value: Value,
    },
    /// Lets `session` set `score`.
    Allow {
        session: Session,
    },
    /// The create options, as the room kept them.
    Options,
    /// The room as `host::room` gives it.
    Room,
}

impl Room for Clockwork {
    type Call = Call;

    fn create(&mut self, _room: &RoomInfo, start: Start, options: &Data) -> Result<(), RoomError> {
        if start == Start::New {
            host::variable("options").hidden().set_data(options)?;
            // A match's room: who is coming, by session, with each
            // ticket's rating (what the SDK's MatchOptions reads).
            if let Ok(matched) = options.decode::<MatchOptions>() {
                let ratings: Vec<(Session, Value)> = matched
                    .players
                    .iter()
                    .map(|p| (p.session, p.properties.get("rating").cloned().unwrap_or(Value::Nil)))
                    .collect();
                host::variable("matched").set(&ratings)?;
            }
        }
        Ok(())
    }

    fn join(&mut self, member: &Member, options: &Data) -> Result<Reply, RoomError> {
        #[derive(Deserialize, Default)]
        #[serde(crate = "room_sdk::serde", default)]
        struct JoinOptions {
            team: Option<String>,
            refuse: bool,
        }
        let options: JoinOptions =
            if options.is_nil() { JoinOptions::default() } else { options.decode()? };
        if options.refuse {
            return Err(RoomError::refuse(format!("{} asked to be refused", member.session)));
        }
        #[derive(Serialize)]
        #[serde(crate = "room_sdk::serde")]
        struct Welcome {
            team: String,
        }
        reply(&Welcome { team: options.team.unwrap_or_else(|| "none".into()) })
    }

    fn message(&mut self, from: &Member, _data: &Data, unreliable: bool) -> Result<(), RoomError> {
        host::broadcast(&Notice::Message { from: from.session, unreliable })
    }

    fn tick(&mut self, dt: Duration, count: u64) {
        let _ = host::broadcast(&Notice::Tick { count, dt_ms: dt.as_millis() as u64 });
    }

    fn timer(&mut self, tag: &str) {
        let _ = host::broadcast(&Notice::Timer(tag));
    }

    fn dispose(&mut self, reason: &str) {
        host::log_info(&format!("clockwork disposed: {reason}"));
        let _ = host::broadcast(&Notice::Disposed(reason));
    }

    fn can_set_variable(&mut self, member: &Member, name: &str, _value: &Data) -> bool {
        name != "score" || self.writers.contains(&member.session)
    }

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        match call {
            Call::SetTick { hz } => host::set_tick_rate(hz)?,
            Call::SetTimer { tag, ms, repeat } => {
                host::set_timer(&tag, Duration::from_millis(ms), repeat)?
            }
            Call::CancelTimer { tag } => return reply(&host::cancel_timer(&tag)),
            Call::Lock { locked } => host::lock(locked),
            Call::SetMetadata { metadata } => host::set_metadata(&metadata)?,
            Call::SetMaxClients { max_clients } => host::set_max_clients(max_clients)?,
            Call::SetSecret { value } => {
                host::variable("secret").hidden().set(&value)?;
            }
            Call::SetShared { value } => {
                host::variable("shared").broadcast(true).room_only().set(&value)?;
            }
            Call::Allow { session } => self.writers.push(session),
            Call::Options => {
                return Ok(
                    host::get_variable_data("options").map_or(Reply::none(), |d| Reply::data(&d))
                );
            }
            Call::Room => {
                let room = host::room();
                #[derive(Serialize)]
                #[serde(crate = "room_sdk::serde")]
                struct View {
                    room: String,
                    locked: bool,
                    max_clients: u32,
                    member_count: u32,
                    metadata: Value,
                }
                return reply(&View {
                    room: room.room,
                    locked: room.locked,
                    max_clients: room.max_clients,
                    member_count: room.member_count,
                    metadata: room.metadata,
                });
            }
        }
        Ok(Reply::none())
    }
}

room_sdk::export_room!(Clockwork);
