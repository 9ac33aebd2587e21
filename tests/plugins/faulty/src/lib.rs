//! A room that misbehaves on request, to prove the sandbox and the budgets
//! hold: each method fails or abuses the host in its own way, and `ok`
//! shows the room still works after.

use std::time::Duration;

use room_sdk::prelude::*;

#[derive(Default)]
struct Faulty {
    /// Counts `ok` calls since the instance was made; resets when the
    /// instance is re-created after a trap.
    calls: u64,
    /// Memory kept by `grow`.
    kept: Vec<Vec<u8>>,
    /// Number of the next variable `fill` sets.
    next_variable: u32,
    /// How long each timer of `busy` runs, in milliseconds.
    busy_ms: i64,
}

/// The room's methods; `count` and `bytes` say how many times and how
/// large.
#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// Answers how many calls this instance has served.
    Ok,
    /// Sets a variable, then panics.
    Panic,
    /// Loops until the time budget stops it.
    Spin,
    /// Starts `timers` repeating 1 ms timers, each of which runs `ms`
    /// milliseconds (within the time budget): a room that never idles.
    Busy { timers: u32, ms: i64 },
    /// Allocates until the memory cap stops it.
    Hog,
    /// Allocates `count` MiB and keeps them.
    Grow { count: u32 },
    /// Broadcasts `count` strings of `bytes` bytes.
    Flood { count: u32, bytes: usize },
    /// Broadcasts `count` strings of `bytes` bytes as unreliable data.
    UnreliableFlood { count: u32, bytes: usize },
    /// Sets `count` new variables of `bytes` bytes; answers how many the
    /// room's budgets took.
    Fill { count: u32, bytes: usize },
    /// Answers a string of `bytes` bytes.
    BigResult { bytes: usize },
    /// Logs `count` error lines of `bytes` bytes, spanning lines.
    LogFlood { count: u32, bytes: usize },
    /// Makes the next instance's `create` hook trap, then panics: the room
    /// cannot come back.
    BreakCreate,
}

impl Faulty {
    fn fill(&mut self, count: u32, bytes: usize) -> u32 {
        let text = "x".repeat(bytes);
        let mut taken = 0;
        while taken < count {
            let name = format!("v{}", self.next_variable);
            if host::variable(&name).broadcast(false).set(&text).is_err() {
                break;
            }
            self.next_variable += 1;
            taken += 1;
        }
        taken
    }
}

impl Room for Faulty {
    type Call = Call;

    fn create(&mut self, _room: &RoomInfo, start: Start, _options: &Data) -> Result<(), RoomError> {
        if start == Start::Recreated && host::get_variable::<bool>("create_traps")?.unwrap_or(false)
        {
            panic!("create traps after a crash");
        }
        Ok(())
    }

    fn join(&mut self, member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        if host::get_variable::<bool>("closed")?.unwrap_or(false) {
            return Err(RoomError::refuse(format!("room closed to {}", member.session)));
        }
        if host::get_variable::<bool>("kick_joiners")?.unwrap_or(false) {
            host::kick(member.session, "no newcomers");
        }
        if let Some(bytes) = host::get_variable::<usize>("spam_joiners")? {
            let text = "x".repeat(bytes);
            for _ in 0..100 {
                host::send(member.session, &text)?;
            }
        }
        Ok(Reply::none())
    }

    fn timer(&mut self, _tag: &str) {
        let started = host::now_ms();
        while host::now_ms() - started < self.busy_ms {
            std::hint::spin_loop();
        }
    }

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        match call {
            Call::Ok => {
                self.calls += 1;
                reply(&self.calls)
            }
            Call::Panic => {
                host::set_variable("before_panic", &true)?;
                panic!("asked to panic");
            }
            Call::Spin => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Call::Busy { timers, ms } => {
                self.busy_ms = ms;
                for timer in 0..timers {
                    host::set_timer(&format!("busy{timer}"), Duration::from_millis(1), true)?;
                }
                Ok(Reply::none())
            }
            Call::Hog => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    blocks.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&blocks);
                }
            }
            Call::Grow { count } => {
                for _ in 0..count {
                    self.kept.push(vec![1u8; 1 << 20]);
                }
                reply(&self.kept.len())
            }
            Call::Flood { count, bytes } => {
                let text = "x".repeat(bytes);
                for _ in 0..count {
                    host::broadcast(&text)?;
                }
                Ok(Reply::none())
            }
            Call::UnreliableFlood { count, bytes } => {
                let text = "x".repeat(bytes);
                for _ in 0..count {
                    host::broadcast_unreliable(&text)?;
                }
                Ok(Reply::none())
            }
            Call::Fill { count, bytes } => reply(&self.fill(count, bytes)),
            Call::BigResult { bytes } => reply(&"x".repeat(bytes)),
            Call::LogFlood { count, bytes } => {
                let line = "log line\nsecond part ".repeat(bytes / 21 + 1);
                for _ in 0..count {
                    host::log_error(&line);
                }
                Ok(Reply::none())
            }
            Call::BreakCreate => {
                host::set_variable("create_traps", &true)?;
                panic!("broken for good");
            }
        }
    }
}

room_sdk::export_room!(Faulty);
