//! A room that misbehaves on request, to prove the sandbox holds: each
//! method fails in its own way, and `ok` shows the room still works after.

use room_sdk::{Broadcast, Methods, Room, RoomError, Session, host};

#[derive(Default)]
struct Faulty {
    /// Counts `ok` calls since the instance was made; resets when the
    /// instance is re-created after a trap.
    calls: u64,
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
}

impl Room for Faulty {
    fn join(&mut self, session: Session) -> Result<(), RoomError> {
        if host::get_variable::<bool>("closed").unwrap_or(false) {
            return Err(RoomError::refuse(format!("room closed to {session}")));
        }
        Ok(())
    }

    fn methods(methods: &mut Methods<Self>) {
        methods.add("ok", Self::ok);
        methods.add("panic", Self::panic);
        methods.add("spin", Self::spin);
        methods.add("hog", Self::hog);
    }
}

room_sdk::export_room!(Faulty);
