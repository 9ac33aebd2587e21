//! Every hook input and reply reads back what was written, and readers
//! skip what a later host may add.

use vampire_abi::input::*;
use vampire_abi::reply::{self, GuestCode, Reply};
use vampire_msgpack::Writer;

#[test]
fn every_input_reads_back_what_was_written() {
    let claims = [0x81, 0xa1, b'r', 0xa5, b'a', b'd', b'm', b'i', b'n'];
    let member = Member { session: 7, user_id: Some("u1"), name: None, claims: &claims };
    let room = RoomView {
        room: "r1",
        room_type: "chat",
        name: "lobby",
        public: true,
        locked: false,
        max_clients: 8,
        member_count: 1,
        metadata: &[0xc3],
        owner: 3,
    };
    let create = Create { room, start: Start::Reloaded, options: &[0x01], members: vec![member] };
    let mut out = Vec::new();
    create.encode_into(&mut out);
    assert_eq!(Create::decode(&out).unwrap(), create);

    let mut out = Vec::new();
    Join { member, options: &[0xc0] }.encode_into(&mut out);
    assert_eq!(Join::decode(&out).unwrap(), Join { member, options: &[0xc0] });

    let invoke = Invoke { session: 2, method: "play", args: &[0x81, 0xa1, b'c', 0x04] };
    let mut out = Vec::new();
    invoke.encode_into(&mut out);
    let (read, call) = Invoke::decode(&out).unwrap();
    assert_eq!(read, invoke);
    assert_eq!(call[0], 0x82, "the call is a map of method and args");

    let restore = Restore { state: Binary(&[1, 2, 3]) };
    let mut out = Vec::new();
    restore.encode_into(&mut out);
    assert_eq!(Restore::decode(&out).unwrap(), restore);

    let check = CanSetVariable { session: 4, name: "score", exists: true, value: &[0x05] };
    let mut out = Vec::new();
    check.encode_into(&mut out);
    assert_eq!(CanSetVariable::decode(&out).unwrap(), check);
}

#[test]
fn a_required_field_missing_is_named() {
    let mut out = Vec::new();
    Writer::new(&mut out).map(1).str("reason").str("left");
    let err = Leave::decode(&out).unwrap_err();
    assert_eq!(err.0, "a leave input without `session`");
    // Absent optional fields take their defaults.
    let mut out = Vec::new();
    Writer::new(&mut out).map(1).str("session").uint(9);
    assert_eq!(
        Message::decode(&out).unwrap(),
        Message { session: 9, unreliable: false, data: &[0xc0] }
    );
}

#[test]
fn replies_carry_the_guest_codes_and_any_other_code_is_a_room_error() {
    let ok = [0x81, 0xa2, b'o', b'k', 0x2a];
    assert_eq!(reply::read(&ok).unwrap(), Reply::Ok(&[0x2a]));
    for code in GuestCode::ALL {
        let mut out = Vec::new();
        reply::write_error(&mut out, code, "no");
        assert_eq!(reply::read(&out).unwrap(), Reply::Error { code, message: "no" });
    }
    let mut out = Vec::new();
    Writer::new(&mut out)
        .map(1)
        .str("error")
        .map(2)
        .str("code")
        .str("teapot")
        .str("message")
        .str("x");
    assert_eq!(
        reply::read(&out).unwrap(),
        Reply::Error { code: GuestCode::RoomError, message: "x" }
    );
}

#[test]
fn readers_skip_keys_a_later_host_may_add() {
    let mut out = Vec::new();
    Writer::new(&mut out).map(3).str("tag").str("countdown").str("new_key").array(0).str("x").nil();
    assert_eq!(Timer::decode(&out).unwrap().tag, "countdown");
}
