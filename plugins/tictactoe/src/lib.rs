//! # `tictactoe`: a guide to methods with results and errors, broadcast
//! variables and join refusal
//!
//! - The first two members play, `X` then `O`; a third is **refused**.
//! - `play {"cell": 0..=8}` places the caller's mark and returns the new
//!   state, or an error: not a player, waiting for an opponent, not your
//!   turn, cell taken, game over. `reset` starts a new game.
//! - The game lives in **broadcast room variables** (`board`, `players`,
//!   `turn`, `winner`): every member sees each move as `variable_changed`,
//!   and the game survives a crash of the plugin, because variables are
//!   kept by the server.

use room_sdk::{Broadcast, Methods, Room, RoomError, Session, host, json};
use serde::{Deserialize, Serialize};

/// The eight lines that win.
#[rustfmt::skip]
const LINES: [[usize; 3]; 8] = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]];

/// The game, as stored in room variables.
#[derive(Default, Serialize, Deserialize)]
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
    fn load() -> Game {
        Game {
            board: host::get_variable("board").unwrap_or_else(|| vec![String::new(); 9]),
            players: host::get_variable("players").unwrap_or_default(),
            turn: host::get_variable("turn").flatten(),
            winner: host::get_variable("winner").flatten(),
        }
    }

    fn save(&self) {
        host::set_variable("board", &self.board, Broadcast::Yes);
        host::set_variable("players", &self.players, Broadcast::Yes);
        host::set_variable("turn", &self.turn, Broadcast::Yes);
        host::set_variable("winner", &self.winner, Broadcast::Yes);
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
        let game = Game::load();
        let mark = game.mark_of(caller).ok_or_else(|| RoomError::new("you are not a player"))?;
        Ok((game, mark))
    }
}

#[derive(Deserialize)]
struct PlayArgs {
    cell: usize,
}

/// All state is in room variables, so the struct itself is empty.
#[derive(Default)]
struct TicTacToe;

impl TicTacToe {
    /// `play {cell}`: places the caller's mark; returns the game.
    fn play(&mut self, caller: Session, args: PlayArgs) -> Result<Game, RoomError> {
        let (mut game, mark) = Game::load_for(caller)?;
        if game.winner.is_some() {
            return Err(RoomError::new("the game is over; call reset"));
        }
        match game.turn {
            None => return Err(RoomError::new("waiting for a second player")),
            Some(turn) if turn != caller => return Err(RoomError::new("not your turn")),
            Some(_) => {}
        }
        let cell = game
            .board
            .get_mut(args.cell)
            .ok_or_else(|| RoomError::invalid_args("cell must be 0 to 8"))?;
        if !cell.is_empty() {
            return Err(RoomError::new("that cell is taken"));
        }
        *cell = mark.to_owned();
        game.winner = game.outcome();
        game.turn = match game.winner {
            Some(_) => None,
            None => game.players.iter().copied().find(|p| *p != caller),
        };
        game.save();
        Ok(game)
    }

    /// `reset`: a new game between the same players.
    fn reset(&mut self, caller: Session, _args: Option<()>) -> Result<Game, RoomError> {
        let (mut game, _) = Game::load_for(caller)?;
        game.new_round();
        game.save();
        Ok(game)
    }
}

impl Room for TicTacToe {
    fn join(&mut self, session: Session) -> Result<(), RoomError> {
        let mut game = Game::load();
        if game.players.len() >= 2 {
            return Err(RoomError::refuse("this game already has two players"));
        }
        game.players.push(session);
        game.new_round();
        game.save();
        host::send(session, &json!({ "you_play": game.mark_of(session) }));
        Ok(())
    }

    fn leave(&mut self, session: Session, _reason: &str) {
        let mut game = Game::load();
        game.players.retain(|p| *p != session);
        game.new_round();
        game.save();
    }

    fn methods(methods: &mut Methods<Self>) {
        methods.add("play", Self::play);
        methods.add("reset", Self::reset);
    }
}

room_sdk::export_room!(TicTacToe);
