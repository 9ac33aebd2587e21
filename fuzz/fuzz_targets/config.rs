//! The configuration loader on any text: it never panics; it accepts or
//! names what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vampiretcp::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(err) = Config::from_json(text, "fuzz") {
            assert!(!err.to_string().is_empty());
        }
    }
});
