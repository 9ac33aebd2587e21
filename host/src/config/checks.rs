//! The rules a configuration value must follow that its type cannot
//! express, checked where the value is read (so serde names the field,
//! with its line and column) or, for rules between fields, by each
//! section's `validate`, which names fields through [`field`].

use serde::{Deserialize, Deserializer};

/// `deserialize_with` for a count, size or duration that must be greater
/// than 0.
///
/// # Errors
/// A zero, or what the integer's own reading refuses.
pub(crate) fn positive<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq,
{
    let value = T::deserialize(deserializer)?;
    if value == T::default() {
        return Err(serde::de::Error::custom("must be greater than 0"));
    }
    Ok(value)
}

/// The name serde gives the Rust field `rust_name` of a section whose
/// keys are camelCase (`max_frame_bytes` → `maxFrameBytes`), after the
/// section's `prefix` (`limits`): how a rule between fields names them.
/// (The tests break every such rule and check that the name it reports is
/// a key of the configuration.)
pub(crate) fn field(prefix: &str, rust_name: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + rust_name.len() + 1);
    if !prefix.is_empty() {
        name.push_str(prefix);
        name.push('.');
    }
    let mut upper = false;
    for c in rust_name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            name.extend(c.to_uppercase());
            upper = false;
        } else {
            name.push(c);
        }
    }
    name
}

/// The serde name of a field of the section this is called in: `name!(limits,
/// max_frame_bytes)` is `"limits.maxFrameBytes"`.
macro_rules! name {
    ($prefix:literal, $field:ident) => {
        $crate::config::checks::field($prefix, stringify!($field))
    };
}

pub(crate) use name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_camel_case_keys() {
        assert_eq!(field("limits", "max_frame_bytes"), "limits.maxFrameBytes");
        assert_eq!(field("", "tcp_port"), "tcpPort");
        assert_eq!(field("cluster", "node_ttl_ms"), "cluster.nodeTtlMs");
    }
}
