//! Properties of the host's decoders over random inputs, the same the
//! fuzz targets check (`fuzz/`), with fewer cases: the configuration
//! loader and the plugin reply decoder never panic, and accept exactly
//! what they should.

use proptest::prelude::*;
use vampire_protocol::msgpack::{self, MAX_NESTING, Writer};
use vampiretcp::Config;
use vampiretcp::plugins::abi::decode_reply;

/// JSON-ish text built from the config's own keys and values, so that
/// cases reach validation and not only the parser.
fn config_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("tcpPort"),
        Just("enableUDP"),
        Just("udpPort"),
        Just("wsPort"),
        Just("websocket"),
        Just("allowedOrigins"),
        Just("logLevel"),
        Just("limits"),
        Just("maxFrameBytes"),
        Just("maxOutboundFrameBytes"),
        Just("defaultRoomSettings"),
        Just("maxClients"),
        Just("unknown"),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("true".to_owned()),
        Just("\"info\"".to_owned()),
        Just("{}".to_owned()),
        Just("null".to_owned()),
        "[a-z{}\\[\\]:,\"0-9 ]{0,12}",
    ];
    proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        format!("{{{}}}", body.join(", "))
    })
}

proptest! {
    #[test]
    fn the_config_loader_never_panics_and_names_what_it_refuses(text in config_text()) {
        if let Err(err) = Config::from_json(&text, "test") {
            prop_assert!(err.to_string().starts_with("test: "));
        }
    }

    #[test]
    fn the_config_loader_never_panics_on_any_text(text in ".{0,64}") {
        let _ = Config::from_json(&text, "test");
    }

    #[test]
    fn plugin_replies_never_make_the_host_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(value) = decode_reply(&bytes) {
            prop_assert!(msgpack::validate(value.as_bytes(), MAX_NESTING).is_ok());
        }
    }

    #[test]
    fn an_ok_reply_gives_its_value_byte_for_byte(n in any::<i64>(), text in ".{0,20}", bin in proptest::collection::vec(any::<u8>(), 0..20)) {
        let mut value = Vec::new();
        rmpv::encode::write_value(&mut value, &rmpv::Value::Array(vec![n.into(), text.as_str().into(), rmpv::Value::Binary(bin)])).unwrap();
        let mut reply = Vec::new();
        Writer::new(&mut reply).map(1).str("ok").raw(&value);
        let decoded = decode_reply(&reply).unwrap();
        prop_assert_eq!(decoded.as_bytes(), &value[..]);
    }
}
