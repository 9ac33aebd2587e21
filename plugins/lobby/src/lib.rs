//! # `lobby`: a ready check and a countdown, driven by the room clock
//!
//! - Members call `ready {"ready": true}` (or `false`). The set of ready
//!   members is the room variable `ready`, broadcast, which only the room
//!   may set: a client cannot mark someone else ready.
//! - Once at least `min_players` members are in and all are ready, a
//!   countdown starts: a repeating one-second **timer** counts the
//!   broadcast variable `countdown` down from `countdown_secs`. Anyone
//!   leaving or un-readying cancels it.
//! - At zero the game starts: `started` becomes true, every member gets
//!   `{"go": true}`, and the room **locks** itself, so nobody joins a
//!   running game and it leaves the listing.
//! - The create options set the rules: `{"min_players": 2,
//!   "countdown_secs": 5}` (the defaults).
//! - **Dropped connections**: before the game starts, a member whose
//!   connection drops is let go at once (`SeatHold::Release`), so a
//!   vanished player cannot hold the ready check up; once it has started,
//!   its seat is kept as long as the server holds the session, and the
//!   player comes back to the running game.

use std::time::Duration;

use room_sdk::prelude::*;

/// Tag of the countdown's timer.
const COUNTDOWN: &str = "countdown";

/// The rules, from the create options.
#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", default)]
struct Rules {
    min_players: usize,
    countdown_secs: u32,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { min_players: 2, countdown_secs: 5 }
    }
}

/// The lobby. What clients must see (ready set, countdown, started) is in
/// room variables; the rules are re-read from the options on a restart.
#[derive(Default)]
struct Lobby {
    rules: Rules,
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// `ready {ready}`: marks the caller ready or not.
    Ready { ready: bool },
}

#[derive(Serialize)]
#[serde(crate = "room_sdk::serde")]
struct Go {
    go: bool,
}

impl Lobby {
    fn ready_set() -> Result<Vec<Session>, RoomError> {
        Ok(host::get_variable("ready")?.unwrap_or_default())
    }

    /// Starts or cancels the countdown to match who is in and ready.
    fn check(&self) -> Result<(), RoomError> {
        if host::get_variable::<bool>("started")?.unwrap_or(false) {
            return Ok(());
        }
        let members = host::members();
        let ready = Lobby::ready_set()?;
        let all_ready =
            members.len() >= self.rules.min_players && members.iter().all(|m| ready.contains(m));
        let counting = host::get_variable::<Option<u32>>("countdown")?.flatten().is_some();
        if all_ready && !counting {
            host::variable("countdown").broadcast(true).set(&Some(self.rules.countdown_secs))?;
            host::set_timer(COUNTDOWN, Duration::from_secs(1), true)?;
        } else if !all_ready && counting {
            host::cancel_timer(COUNTDOWN);
            host::variable("countdown").broadcast(true).set(&None::<u32>)?;
        }
        Ok(())
    }
}

impl Room for Lobby {
    type Call = Call;

    fn create(&mut self, _room: &RoomInfo, _start: Start, options: &Data) -> Result<(), RoomError> {
        if !options.is_nil() {
            self.rules = options.decode()?;
        }
        if self.rules.min_players == 0 {
            return Err(RoomError::invalid_args("min_players must be at least 1"));
        }
        Ok(())
    }

    fn join(&mut self, _member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        // A newcomer is not ready yet: a running countdown stops.
        self.check()?;
        Ok(Reply::none())
    }

    fn leave(&mut self, member: &Member, _reason: &str) {
        let Ok(mut ready) = Lobby::ready_set() else { return };
        ready.retain(|s| *s != member.session);
        let _ = host::variable("ready").broadcast(true).set(&ready);
        let _ = self.check();
    }

    fn disconnect(&mut self, _member: &Member) -> SeatHold {
        match host::get_variable::<bool>("started") {
            Ok(Some(true)) => SeatHold::ServerWindow,
            _ => SeatHold::Release,
        }
    }

    fn call(&mut self, caller: &Member, call: Call) -> Result<Reply, RoomError> {
        let Call::Ready { ready: is_ready } = call;
        if host::get_variable::<bool>("started")?.unwrap_or(false) {
            return Err("the game has started".into());
        }
        let mut ready = Lobby::ready_set()?;
        ready.retain(|s| *s != caller.session);
        if is_ready {
            ready.push(caller.session);
        }
        host::variable("ready").broadcast(true).set(&ready)?;
        self.check()?;
        reply(&ready)
    }

    fn timer(&mut self, _tag: &str) {
        let left = host::get_variable::<Option<u32>>("countdown").ok().flatten().flatten();
        let Some(left) = left else { return };
        if left > 1 {
            let _ = host::variable("countdown").broadcast(true).set(&Some(left - 1));
            return;
        }
        host::cancel_timer(COUNTDOWN);
        let _ = host::variable("countdown").broadcast(true).set(&Some(0));
        let _ = host::variable("started").broadcast(true).set(&true);
        let _ = host::broadcast(&Go { go: true });
        host::lock(true);
    }
}

room_sdk::export_room!(Lobby);
