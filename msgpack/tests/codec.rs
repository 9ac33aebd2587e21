//! The validator, reader and writer against rmpv's encoder.

use vampire_msgpack::*;

fn encode(value: &rmpv::Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).unwrap();
    out
}

fn nested(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x91; depth - 1];
    bytes.push(0x90);
    bytes
}

#[test]
fn accepts_every_kind_of_value() {
    use rmpv::Value;
    let value = Value::Map(vec![
        (Value::from("bin"), Value::Binary(vec![0, 1, 2])),
        (Value::from(1), Value::F32(f32::NAN)),
        (Value::from("max"), Value::from(u64::MAX)),
        (Value::from("min"), Value::from(i64::MIN)),
        (Value::from("ext"), Value::Ext(-3, vec![1; 20])),
        (Value::from("inf"), Value::F64(f64::NEG_INFINITY)),
    ]);
    let bytes = encode(&value);
    assert_eq!(value_len(&bytes, MAX_NESTING), Ok(bytes.len()));
}

#[test]
fn refuses_truncation_reserved_markers_bad_utf8_and_trailing_bytes() {
    assert!(matches!(validate(&[0x92, 0x01], 32), Err(ValueError::Malformed(_))));
    assert!(matches!(validate(&[0xc1], 32), Err(ValueError::Malformed(_))));
    assert!(matches!(validate(&[0xa2, 0xff, 0xfe], 32), Err(ValueError::Malformed(_))));
    assert!(matches!(validate(&[0x01, 0x02], 32), Err(ValueError::Malformed(_))));
    // A count no buffer could hold is truncation, found at once.
    assert!(matches!(validate(&[0xdd, 0xff, 0xff, 0xff, 0xff], 32), Err(ValueError::Malformed(_))));
}

#[test]
fn depth_is_limited_and_reported_in_its_own_words() {
    assert_eq!(validate(&nested(MAX_NESTING), MAX_NESTING), Ok(()));
    assert_eq!(validate(&nested(MAX_NESTING + 1), MAX_NESTING), Err(ValueError::TooDeep));
    // Deep and truncated: malformed.
    let mut bytes = nested(100);
    bytes.pop();
    assert!(matches!(validate(&bytes, MAX_NESTING), Err(ValueError::Malformed(_))));
}

#[test]
fn reader_reads_typed_items_and_names_mismatches() {
    let mut buf = Vec::new();
    Writer::new(&mut buf).map(2).str("id").uint(300).str("op").bin(b"x");
    let mut reader = Reader::new(&buf);
    assert_eq!(reader.map_len(), Ok(2));
    assert_eq!(reader.str(), Ok("id"));
    assert_eq!(reader.u64(), Ok(300));
    assert_eq!(reader.str(), Ok("op"));
    let err = reader.str().unwrap_err();
    assert_eq!(err.to_string(), "expected a string, found binary");
    assert_eq!(reader.bin(), Ok(&b"x"[..]));
    assert!(reader.is_empty());
}

#[test]
fn signed_encodings_of_non_negative_integers_are_unsigned() {
    let mut reader = Reader::new(&[0xd0, 0x05, 0xd0, 0xfb]);
    assert_eq!(reader.u64(), Ok(5));
    assert_eq!(reader.u64().unwrap_err().found, "a negative integer");
}

#[test]
fn the_writer_matches_rmpv_for_every_width() {
    for n in [0u64, 127, 128, 255, 256, 65535, 65536, u32::MAX as u64, u64::MAX] {
        let mut ours = Vec::new();
        Writer::new(&mut ours).uint(n);
        assert_eq!(ours, encode(&rmpv::Value::from(n)), "{n}");
    }
    for len in [0usize, 31, 32, 255, 256, 70000] {
        let text = "x".repeat(len);
        let mut ours = Vec::new();
        Writer::new(&mut ours).str(&text);
        assert_eq!(ours, encode(&rmpv::Value::from(text.as_str())), "{len}");
        assert_eq!(ours.len(), str_size(len));
    }
}
