//! # `tictactoe`: a guide to methods with results and errors, room-owned
//! variables and join refusal
//!
//! - The first two members play, `X` then `O`; a third is **refused**.
//! - `play {"cell": 0..=8}` places the caller's mark and returns the new
//!   state, or an error: not a player, waiting for an opponent, not your
//!   turn, cell taken, game over. `reset` starts a new game.
//! - The game lives in **broadcast room variables** (`board`, `players`,
//!   `turn`, `winner`) that only the room may set: every member sees each
//!   move as `variable_changed`, no client can overwrite the game, and the
//!   game survives a crash of the plugin, because the server keeps them.
//! - A player whose **connection drops** keeps its place for up to 60 s
//!   (`SeatHold::For`, within the server's window): the broadcast
//!   variable `away` names it meanwhile, and when it resumes it finds the
//!   same board and `away` cleared. Only if it does not come back in time
//!   does it leave (reason `timeout`) and a new round wait for a player.

use room_sdk::prelude::*;

/// How long a player whose connection dropped keeps its place.
const AWAY_SEAT_HOLD: std::time::Duration = std::time::Duration::from_secs(60);

/// The eight lines that win.
#[rustfmt::skip]
const LINES: [[usize; 3]; 8] = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]];

/// The game, as stored in room variables.
#[derive(Default, Serialize, Deserialize)]
#[serde(crate = "room_sdk::serde")]
struct Game {
    /// Cells 0..9, row by row: "", "X" or "O".
    board: Vec<String>,
    /// Sessions playing X and O, in that order.
    players: Vec<Session>,
    /// Whose move it is (nil until two players are in).
    turn: Option<Session>,
    /// "X", "O", "draw", or nil while the game goes on.
    winner: Option<String>,
}

impl Game {
    fn load() -> Result<Game, RoomError> {
        Ok(Game {
            board: host::get_variable("board")?.unwrap_or_else(|| vec![String::new(); 9]),
            players: host::get_variable("players")?.unwrap_or_default(),
            turn: host::get_variable("turn")?.flatten(),
            winner: host::get_variable("winner")?.flatten(),
        })
    }

    fn save(&self) -> Result<(), RoomError> {
        host::variable("board").broadcast(true).set(&self.board)?;
        host::variable("players").broadcast(true).set(&self.players)?;
        host::variable("turn").broadcast(true).set(&self.turn)?;
        host::variable("winner").broadcast(true).set(&self.winner)?;
        Ok(())
    }

    fn new_round(&mut self) {
        self.board = vec![String::new(); 9];
        self.winner = None;
        self.turn = (self.players.len() == 2).then(|| self.players[0]);
    }

    fn mark_of(&self, session: Session) -> Option<&'static str> {
        self.players.iter().position(|p| *p == session).map(|i| ["X", "O"][i])
    }

    fn outcome(&self) -> Option<String> {
        let b = &self.board;
        match LINES.iter().find(|[x, y, z]| !b[*x].is_empty() && b[*x] == b[*y] && b[*y] == b[*z]) {
            Some([x, _, _]) => Some(b[*x].clone()),
            None => b.iter().all(|cell| !cell.is_empty()).then(|| "draw".to_owned()),
        }
    }

    /// The game and the caller's mark, if the caller plays.
    fn load_for(caller: Session) -> Result<(Game, &'static str), RoomError> {
        let game = Game::load()?;
        let mark = game.mark_of(caller).ok_or("you are not a player")?;
        Ok((game, mark))
    }

    /// Places `mark` for `caller` in `cell`.
    fn play(&mut self, caller: Session, mark: &str, cell: usize) -> Result<(), RoomError> {
        if self.winner.is_some() {
            return Err("the game is over; call reset".into());
        }
        match self.turn {
            None => return Err("waiting for a second player".into()),
            Some(turn) if turn != caller => return Err("not your turn".into()),
            Some(_) => {}
        }
        let cell = self
            .board
            .get_mut(cell)
            .ok_or_else(|| RoomError::invalid_args("cell must be 0 to 8"))?;
        if !cell.is_empty() {
            return Err("that cell is taken".into());
        }
        *cell = mark.to_owned();
        self.winner = self.outcome();
        self.turn = match self.winner {
            Some(_) => None,
            None => self.players.iter().copied().find(|p| *p != caller),
        };
        Ok(())
    }
}

/// The room's methods.
#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// `play {cell}`: places the caller's mark; returns the game.
    Play { cell: usize },
    /// `reset`: a new game between the same players; returns it.
    Reset,
}

/// All state is in room variables, so the struct itself is empty.
#[derive(Default)]
struct TicTacToe;

impl Room for TicTacToe {
    type Call = Call;

    fn join(&mut self, member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        let mut game = Game::load()?;
        if game.players.len() >= 2 {
            return Err(RoomError::refuse("this game already has two players"));
        }
        game.players.push(member.session);
        game.new_round();
        game.save()?;
        // Reaches the joiner in its join result.
        reply(&game.mark_of(member.session))
    }

    fn leave(&mut self, member: &Member, _reason: &str) {
        let Ok(mut game) = Game::load() else { return };
        game.players.retain(|p| *p != member.session);
        game.new_round();
        let _ = game.save();
        if host::get_variable::<Option<Session>>("away").ok().flatten().flatten()
            == Some(member.session)
        {
            let _ = host::variable("away").broadcast(true).set(&None::<Session>);
        }
    }

    fn disconnect(&mut self, member: &Member) -> SeatHold {
        if Game::load().is_ok_and(|game| game.players.contains(&member.session)) {
            let _ = host::variable("away").broadcast(true).set(&Some(member.session));
        }
        SeatHold::For(AWAY_SEAT_HOLD)
    }

    fn reconnect(&mut self, _member: &Member) {
        let _ = host::variable("away").broadcast(true).set(&None::<Session>);
    }

    fn call(&mut self, caller: &Member, call: Call) -> Result<Reply, RoomError> {
        let (mut game, mark) = Game::load_for(caller.session)?;
        match call {
            Call::Play { cell } => game.play(caller.session, mark, cell)?,
            Call::Reset => game.new_round(),
        }
        game.save()?;
        reply(&game)
    }
}

room_sdk::export_room!(TicTacToe);
