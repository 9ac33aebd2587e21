//! The byte listings of `docs/ABI.md` are what the host writes: each hook
//! input shown there is encoded here and compared with the document.

use vampire_abi::input::{Dispose, Invoke, Join, Leave, Member, Message, Tick, Timer};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// The hex bytes the document lists under `hook`.
fn documented(hook: &str) -> String {
    let doc = include_str!("../../docs/ABI.md");
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(hook));
    lines.next().unwrap_or_else(|| panic!("ABI.md lists no bytes for {hook}"));
    lines
        .take_while(|l| l.starts_with("                 "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_documented_bytes_are_the_encoders() {
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut out = Vec::new();
    let member = Member { session: 7, user_id: None, name: None, claims: &[] };
    Join { member, options: &[0xc0] }.encode_into(&mut out);
    cases.push(("vampire_join ", std::mem::take(&mut out)));
    Leave { session: 7, reason: "left" }.encode_into(&mut out);
    cases.push(("vampire_leave ", std::mem::take(&mut out)));
    Invoke { session: 7, method: "add", args: &[0x81, 0xa2, b'b', b'y', 0x02] }
        .encode_into(&mut out);
    cases.push(("vampire_invoke ", std::mem::take(&mut out)));
    Message { session: 7, data: &[0xa2, b'h', b'i'], unreliable: false }.encode_into(&mut out);
    cases.push(("vampire_message ", std::mem::take(&mut out)));
    Tick { dt_ms: 50, count: 3 }.encode_into(&mut out);
    cases.push(("vampire_tick ", std::mem::take(&mut out)));
    Timer { tag: "go" }.encode_into(&mut out);
    cases.push(("vampire_timer ", std::mem::take(&mut out)));
    Dispose { reason: "deleted" }.encode_into(&mut out);
    cases.push(("vampire_dispose ", std::mem::take(&mut out)));
    for (hook, bytes) in cases {
        assert_eq!(documented(hook), hex(&bytes), "{hook}");
    }
}
