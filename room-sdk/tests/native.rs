//! Outside the server (a native build), a host call fails loudly, naming
//! the call, instead of answering "nothing" and letting a room pass for
//! working.

#[test]
#[should_panic(expected = "the `variable_get` host call exists only inside the VampireTCP server")]
fn a_host_call_outside_the_server_panics_naming_it() {
    let _ = room_sdk::host::get_variable::<u32>("score");
}

#[test]
#[should_panic(expected = "`broadcast`")]
fn every_host_call_does() {
    let _ = room_sdk::host::broadcast(&"hello");
}
