//! A room that misbehaves on request, to prove the sandbox and the budgets
//! hold: each method fails or abuses the host in its own way, and `ok`
//! shows the room still works after.

use room_sdk::{Broadcast, Methods, Room, RoomError, RoomInfo, Session, host};
use serde::Deserialize;

#[derive(Default)]
struct Faulty {
    /// Counts `ok` calls since the instance was made; resets when the
    /// instance is re-created after a trap.
    calls: u64,
    /// Memory kept by `grow`.
    kept: Vec<Vec<u8>>,
    /// Number of the next variable `fill` sets.
    next_variable: u32,
}

/// Arguments of the methods that repeat something.
#[derive(Deserialize)]
struct Repeat {
    /// How many times.
    count: u32,
    /// How large each time, in bytes.
    #[serde(default)]
    bytes: usize,
}

impl Faulty {
    fn ok(&mut self, _caller: Session, _args: Option<()>) -> Result<u64, RoomError> {
        self.calls += 1;
        Ok(self.calls)
    }

    fn panic(&mut self, _caller: Session, _args: Option<()>) -> Result<(), RoomError> {
        host::set_variable("before_panic", &true, Broadcast::Default);
        panic!("asked to panic");
    }

    fn spin(&mut self, _caller: Session, _args: Option<()>) -> Result<(), RoomError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn hog(&mut self, _caller: Session, _args: Option<()>) -> Result<usize, RoomError> {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&blocks);
        }
    }

    /// Allocates `count` MiB and keeps them.
    fn grow(&mut self, _caller: Session, args: Repeat) -> Result<usize, RoomError> {
        for _ in 0..args.count {
            self.kept.push(vec![1u8; 1 << 20]);
        }
        Ok(self.kept.len())
    }

    /// Broadcasts `count` strings of `bytes` bytes.
    fn flood(&mut self, _caller: Session, args: Repeat) -> Result<(), RoomError> {
        let text = "x".repeat(args.bytes);
        for _ in 0..args.count {
            host::broadcast(&text);
        }
        Ok(())
    }

    /// Sets `count` new variables of `bytes` bytes; returns how many the
    /// room took before its budgets refused.
    fn fill(&mut self, _caller: Session, args: Repeat) -> Result<u32, RoomError> {
        let text = "x".repeat(args.bytes);
        let mut taken = 0;
        while taken < args.count {
            let name = format!("v{}", self.next_variable);
            if host::try_set_variable(&name, &text, Broadcast::No).is_err() {
                break;
            }
            self.next_variable += 1;
            taken += 1;
        }
        Ok(taken)
    }

    /// Returns a string of `bytes` bytes.
    fn big_result(&mut self, _caller: Session, args: Repeat) -> Result<String, RoomError> {
        Ok("x".repeat(args.bytes))
    }

    /// Logs `count` error lines of `bytes` bytes, spanning lines.
    fn log_flood(&mut self, _caller: Session, args: Repeat) -> Result<(), RoomError> {
        let line = "log line\nsecond part ".repeat(args.bytes / 21 + 1);
        for _ in 0..args.count {
            host::log_error(&line);
        }
        Ok(())
    }

    /// Makes the next instance's `create` hook trap, then panics: the room
    /// cannot come back.
    fn break_create(&mut self, _caller: Session, _args: Option<()>) -> Result<(), RoomError> {
        host::set_variable("create_traps", &true, Broadcast::No);
        panic!("broken for good");
    }
}

impl Room for Faulty {
    fn create(&mut self, info: &RoomInfo) -> Result<(), RoomError> {
        if info.recreated && host::get_variable::<bool>("create_traps").unwrap_or(false) {
            panic!("create traps after a crash");
        }
        Ok(())
    }

    fn join(&mut self, session: Session) -> Result<(), RoomError> {
        if host::get_variable::<bool>("closed").unwrap_or(false) {
            return Err(RoomError::refuse(format!("room closed to {session}")));
        }
        if host::get_variable::<bool>("kick_joiners").unwrap_or(false) {
            host::kick(session, "no newcomers");
        }
        if let Some(bytes) = host::get_variable::<usize>("spam_joiners") {
            let text = "x".repeat(bytes);
            for _ in 0..100 {
                host::send(session, &text);
            }
        }
        Ok(())
    }

    fn methods(methods: &mut Methods<Self>) {
        methods.add("ok", Self::ok);
        methods.add("panic", Self::panic);
        methods.add("spin", Self::spin);
        methods.add("hog", Self::hog);
        methods.add("grow", Self::grow);
        methods.add("flood", Self::flood);
        methods.add("fill", Self::fill);
        methods.add("big_result", Self::big_result);
        methods.add("log_flood", Self::log_flood);
        methods.add("break_create", Self::break_create);
    }
}

room_sdk::export_room!(Faulty);
