//! A room guarded by identity, for the authentication tests: its creator
//! names the user ids it admits (`guests`) and the one user who may set
//! `score` (`scorekeeper`); every joiner is greeted by user id and name.
//! Whoever sets `cheat` is kicked by the guard, which then says yes: the
//! host must still refuse the write of someone no longer in the room.

use room_sdk::prelude::*;

#[derive(Default)]
struct Guarded {
    guests: Vec<String>,
    scorekeeper: Option<String>,
}

/// The create options.
#[derive(Deserialize, Default)]
#[serde(crate = "room_sdk::serde")]
struct Options {
    #[serde(default)]
    guests: Vec<String>,
    #[serde(default)]
    scorekeeper: Option<String>,
}

/// What a joiner's join response carries.
#[derive(Serialize)]
#[serde(crate = "room_sdk::serde")]
struct Greeting<'a> {
    user_id: Option<&'a str>,
    name: Option<&'a str>,
}

impl Room for Guarded {
    type Call = NoCalls;

    fn create(&mut self, _room: &RoomInfo, _start: Start, options: &Data) -> Result<(), RoomError> {
        let options: Options =
            if options.is_nil() { Options::default() } else { options.decode()? };
        self.guests = options.guests;
        self.scorekeeper = options.scorekeeper;
        Ok(())
    }

    fn join(&mut self, member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        let admitted = member.user_id.as_ref().is_some_and(|id| self.guests.contains(id));
        if !admitted {
            return Err(RoomError::refuse("you are not on the guest list"));
        }
        reply(&Greeting { user_id: member.user_id.as_deref(), name: member.name.as_deref() })
    }

    fn can_set_variable(&mut self, member: &Member, name: &str, _value: &Data) -> bool {
        if name == "cheat" {
            room_sdk::host::kick(member.session, "no cheating");
            return true;
        }
        name != "score" || member.user_id.is_some() && member.user_id == self.scorekeeper
    }
}

room_sdk::export_room!(Guarded);
