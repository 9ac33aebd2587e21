//! The raw ABI: the host's imports as declared to the linker, and the
//! guest's input and output buffers. Everything here is `unsafe`; the rest
//! of the SDK wraps it ([`crate::host`]). `docs/ABI.md` is the contract;
//! the names come from `vampire_abi::imports`.
//!
//! Every import traps the call (fails it with `plugin_error`) when a
//! pointer and length do not lie inside the module's memory, when a
//! string is not UTF-8, or when a value is not MessagePack.

// The raw ABI is the SDK's unsafe code: every function here is an
// `extern` import or touches guest buffers by pointer.
#![allow(unsafe_code)]

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "vampire")]
unsafe extern "C" {
    /// `variable_get`: writes the value at `out` if it fits in `cap`;
    /// returns its length, or `NOT_FOUND`.
    pub fn variable_get(name: *const u8, name_len: usize, out: *mut u8, cap: usize) -> i32;
    /// `variable_set`: 1 broadcast, 0 not, `REFUSED` by a budget.
    pub fn variable_set(
        name: *const u8,
        name_len: usize,
        value: *const u8,
        value_len: usize,
        flags: i32,
    ) -> i32;
    /// `broadcast`: 0, or `REFUSED` when too large.
    pub fn broadcast(from: i64, data: *const u8, len: usize, flags: i32) -> i32;
    /// `send`: 1, 0 when not a member, `REFUSED` when too large.
    pub fn send(to: i64, data: *const u8, len: usize, flags: i32) -> i32;
    /// `kick`: 1, or 0 when not a member.
    pub fn kick(session: i64, reason: *const u8, len: usize) -> i32;
    /// `members`: the session ids (size protocol of `variable_get`).
    pub fn members(out: *mut u8, cap: usize) -> i32;
    /// `member`: one member's map, or `NOT_FOUND`.
    pub fn member(session: i64, out: *mut u8, cap: usize) -> i32;
    /// `room`: the room's map.
    pub fn room(out: *mut u8, cap: usize) -> i32;
    /// `room_lock`.
    pub fn room_lock(locked: i32);
    /// `room_set_metadata`: 0, or `REFUSED`.
    pub fn room_set_metadata(value: *const u8, len: usize) -> i32;
    /// `room_set_max_clients`: 0, or `REFUSED`.
    pub fn room_set_max_clients(max_clients: i32) -> i32;
    /// `tick_rate`: 0, or `REFUSED`.
    pub fn tick_rate(rate_hz: i32) -> i32;
    /// `timer_set`: 0, or `REFUSED`.
    pub fn timer_set(tag: *const u8, len: usize, delay_ms: i64, repeat: i32) -> i32;
    /// `timer_cancel`: 1, or 0 when there was none.
    pub fn timer_cancel(tag: *const u8, len: usize) -> i32;
    /// `log`.
    pub fn log(level: i32, text: *const u8, len: usize);
    /// `now_ms`.
    pub fn now_ms() -> i64;
    /// `random`: fills `len` bytes at `out`.
    pub fn random(out: *mut u8, len: usize);
}

/// Stand-ins so the SDK also compiles (and its docs build) for the host
/// target. Only the server provides the imports: each stand-in panics,
/// naming the import, rather than answer "nothing there" and let a
/// natively run room pass for working.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc, missing_docs)]
mod native {
    /// Fails a host call made outside the server.
    #[cold]
    fn unavailable(import: &str) -> ! {
        panic!(
            "room-sdk: the `{import}` host call exists only inside the VampireTCP server; \
             build the room for wasm32-unknown-unknown and run it in the server"
        )
    }

    macro_rules! stand_ins {
        ($($name:ident($($arg:ty),*) $(-> $ret:ty)?;)*) => {$(
            pub unsafe fn $name($(_: $arg),*) $(-> $ret)? {
                unavailable(stringify!($name))
            }
        )*};
    }

    stand_ins! {
        variable_get(*const u8, usize, *mut u8, usize) -> i32;
        variable_set(*const u8, usize, *const u8, usize, i32) -> i32;
        broadcast(i64, *const u8, usize, i32) -> i32;
        send(i64, *const u8, usize, i32) -> i32;
        kick(i64, *const u8, usize) -> i32;
        members(*mut u8, usize) -> i32;
        member(i64, *mut u8, usize) -> i32;
        room(*mut u8, usize) -> i32;
        room_lock(i32);
        room_set_metadata(*const u8, usize) -> i32;
        room_set_max_clients(i32) -> i32;
        tick_rate(i32) -> i32;
        timer_set(*const u8, usize, i64, i32) -> i32;
        timer_cancel(*const u8, usize) -> i32;
        log(i32, *const u8, usize);
        now_ms() -> i64;
        random(*mut u8, usize);
    }
}
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;

/// `vampire_alloc`: a buffer of exactly `len` bytes that the host fills with
/// a hook's input. Ownership passes to the hook it is given to, which takes
/// it back with [`take_buffer`].
pub fn alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()) as *mut u8
}

/// Takes back a buffer of `len` bytes made by [`alloc`] or
/// [`leak_output`].
///
/// # Safety
/// `ptr` and `len` must be exactly those of one buffer returned by
/// [`alloc`] (a hook's input) or given away by [`leak_output`] (a reply
/// the host hands back to `vampire_dealloc`), and that buffer must be taken
/// back only once. The ABI obliges the host to pass back exactly such a
/// buffer; the exports `export_room!` generates call this only with what
/// the host passed.
pub unsafe fn take_buffer(ptr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: the caller guarantees `ptr` is a `Box<[u8]>` of `len` bytes
    // given away once.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }.into_vec()
}

/// Hands a hook's output to the host as `(ptr << 32) | len`; the host frees
/// it with `vampire_dealloc`. An empty output is `0` (success, nil).
pub fn leak_output(output: Vec<u8>) -> i64 {
    if output.is_empty() {
        return 0;
    }
    let boxed = output.into_boxed_slice();
    let len = boxed.len();
    let ptr = Box::into_raw(boxed) as *mut u8;
    vampire_abi::pack(ptr as usize as u32, len as u32)
}
