//! Room variables: named values, each with its own broadcast flag, writer
//! and visibility, within the room's budgets.
//!
//! They live in the host, not in a plugin's memory, so they survive a
//! plugin trap and a plugin reload. Values are [`Payload`]s: the bytes
//! their setter sent, handed to readers unchanged.

use std::collections::HashMap;

use bytes::BufMut;
use vampire_protocol::error::quote;
use vampire_protocol::msgpack;
use vampire_protocol::{ErrorCode, Payload};

use crate::config::Limits;
use crate::error::ApiError;

/// One variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Current value.
    pub value: Payload,
    /// Whether changes are sent to members (when the room broadcasts at
    /// all).
    pub broadcast: bool,
    /// Who may set it.
    pub write_access: WriteAccess,
    /// Only the room may read it: members never see it.
    pub hidden: bool,
    /// Its changes go over UDP to members that bound it.
    pub unreliable: bool,
}

/// Who may set a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAccess {
    /// Members (subject to the room's `can_set_variable` hook) and the
    /// room. What a client creates.
    Clients,
    /// Only the room itself. What a plugin creates unless it says
    /// otherwise, so a room's own state cannot be overwritten by a client.
    Room,
}

/// How a set changes a variable's rules; `None` keeps what the variable
/// has (or, for a new variable, takes the default named on each field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Broadcast flag; default: the room's default flag.
    pub broadcast: Option<bool>,
    /// Who may set it; default: [`WriteAccess::Clients`].
    pub write_access: Option<WriteAccess>,
    /// Visibility; default: visible to members.
    pub hidden: Option<bool>,
    /// Delivery of changes over UDP; default: over TCP.
    pub unreliable: Option<bool>,
}

/// The budgets of one room's variables, from `limits.*`.
#[derive(Debug, Clone, Copy)]
pub struct VariableLimits {
    /// Variables at most.
    pub count: usize,
    /// Bytes of names and values together at most.
    pub total_bytes: usize,
    /// Bytes of one value at most.
    pub value_bytes: usize,
    /// Bytes of one name at most.
    pub name_bytes: usize,
}

impl VariableLimits {
    /// The budgets the configuration sets.
    pub fn from_config(limits: &Limits) -> VariableLimits {
        VariableLimits {
            count: limits.max_room_variables,
            total_bytes: limits.max_room_variable_bytes,
            value_bytes: limits.max_variable_bytes,
            name_bytes: limits.max_variable_name_bytes,
        }
    }
}

impl Default for VariableLimits {
    fn default() -> VariableLimits {
        VariableLimits::from_config(&Limits::default())
    }
}

/// The variables of one room.
#[derive(Debug, Default)]
pub struct Variables {
    entries: HashMap<String, Variable>,
    /// Bytes of every name and value, kept so that budgets and answer
    /// sizes are known without a walk.
    bytes: usize,
    limits: VariableLimits,
}

impl Variables {
    /// No variables, within `limits`.
    pub fn new(limits: VariableLimits) -> Variables {
        Variables { entries: HashMap::new(), bytes: 0, limits }
    }

    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.entries.get(name)
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `name` to `value`. Its rules become those `rules` gives, keep
    /// what they were otherwise, and take the defaults for a new variable
    /// (the broadcast flag's is `default_broadcast`). Returns the variable
    /// as it now is.
    ///
    /// # Errors
    /// `variable_limit` when the name or value is too long, or the room
    /// would hold too many variables or bytes; nothing changes then.
    pub fn set(
        &mut self,
        name: &str,
        value: Payload,
        rules: Rules,
        default_broadcast: bool,
    ) -> Result<&Variable, ApiError> {
        let limits = self.limits;
        let refuse = |message: String| Err(ApiError::new(ErrorCode::VariableLimit, message));
        if name.len() > limits.name_bytes {
            return refuse(format!(
                "variable name {} is {} bytes; at most {} are allowed",
                quote(name),
                name.len(),
                limits.name_bytes
            ));
        }
        if value.len() > limits.value_bytes {
            return refuse(format!(
                "the value of {} is {} bytes; at most {} are allowed",
                quote(name),
                value.len(),
                limits.value_bytes
            ));
        }
        let old = self.entries.get(name).map_or(0, |v| name.len() + v.value.len());
        if old == 0 && self.entries.len() >= limits.count {
            return refuse(format!("the room has {} variables, its maximum", limits.count));
        }
        let bytes = self.bytes - old + name.len() + value.len();
        if bytes > limits.total_bytes {
            return refuse(format!(
                "the room's variables would take {bytes} bytes; at most {} are allowed",
                limits.total_bytes
            ));
        }
        self.bytes = bytes;
        let variable = self.entries.entry(name.to_owned()).or_insert_with(|| Variable {
            value: Payload::nil(),
            broadcast: rules.broadcast.unwrap_or(default_broadcast),
            write_access: WriteAccess::Clients,
            hidden: false,
            unreliable: false,
        });
        variable.value = value;
        if let Some(flag) = rules.broadcast {
            variable.broadcast = flag;
        }
        if let Some(access) = rules.write_access {
            variable.write_access = access;
        }
        if let Some(hidden) = rules.hidden {
            variable.hidden = hidden;
        }
        if let Some(unreliable) = rules.unreliable {
            variable.unreliable = unreliable;
        }
        Ok(variable)
    }

    /// An upper bound of the bytes [`Variables::write_map`] writes.
    pub fn encoded_size_bound(&self) -> usize {
        msgpack::header_size(self.entries.len()) + self.bytes + 5 * self.entries.len()
    }

    /// Writes every variable members may read as a map of name to value.
    pub fn write_visible<B: BufMut>(&self, w: &mut msgpack::Writer<'_, B>) {
        let visible = self.entries.values().filter(|v| !v.hidden).count();
        w.map(visible);
        for (name, variable) in self.entries.iter().filter(|(_, v)| !v.hidden) {
            w.str(name).raw(variable.value.as_bytes());
        }
    }

    /// Names and values, for tests and snapshots.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Variable)> {
        self.entries.iter().map(|(name, variable)| (name.as_str(), variable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Variables {
        Variables::new(VariableLimits { count: 3, total_bytes: 40, value_bytes: 16, name_bytes: 8 })
    }

    fn flag(broadcast: Option<bool>) -> Rules {
        Rules { broadcast, ..Rules::default() }
    }

    #[test]
    fn flag_is_given_then_kept_then_defaulted() {
        let mut vars = small();
        let mut set = |name: &str, v: i64, rules: Rules, default: bool| {
            vars.set(name, Payload::from(v), rules, default).unwrap().broadcast
        };
        assert!(!set("a", 1, flag(Some(false)), true));
        assert!(!set("a", 2, flag(None), true), "an existing flag is kept");
        assert!(set("a", 3, flag(Some(true)), false));
        assert!(set("b", 0, flag(None), true), "new takes the default");
        assert!(!set("c", 0, flag(None), false));
        assert_eq!(vars.get("a").unwrap().value, Payload::from(3));
        assert_eq!(vars.len(), 3);
    }

    #[test]
    fn rules_are_kept_unless_given() {
        let mut vars = small();
        let room_only =
            Rules { write_access: Some(WriteAccess::Room), hidden: Some(true), ..Rules::default() };
        vars.set("s", Payload::nil(), room_only, true).unwrap();
        let again = vars.set("s", Payload::from(1), Rules::default(), true).unwrap();
        assert_eq!((again.write_access, again.hidden), (WriteAccess::Room, true));
        let mut out = Vec::new();
        vars.write_visible(&mut msgpack::Writer::new(&mut out));
        assert_eq!(out, [0x80], "hidden variables are not shown");
    }

    #[test]
    fn every_budget_is_enforced_and_a_refusal_changes_nothing() {
        let mut vars = small();
        let none = Rules::default();
        let refused = |vars: &mut Variables, name: &str, value: Payload| {
            vars.set(name, value, none, true).map(|_| ()).unwrap_err().code
        };
        assert_eq!(refused(&mut vars, "a_long_name", Payload::nil()), ErrorCode::VariableLimit);
        assert_eq!(
            refused(&mut vars, "a", Payload::from("x".repeat(20))),
            ErrorCode::VariableLimit
        );
        for name in ["a", "b", "c"] {
            vars.set(name, Payload::from("x".repeat(10)), none, true).unwrap();
        }
        assert_eq!(refused(&mut vars, "d", Payload::nil()), ErrorCode::VariableLimit);
        // Replacing counts the difference: 3 × (1 + 11) = 36, so +5 passes 40.
        assert_eq!(
            refused(&mut vars, "a", Payload::from("x".repeat(15))),
            ErrorCode::VariableLimit
        );
        assert_eq!(vars.get("a").unwrap().value, Payload::from("x".repeat(10)));
        vars.set("a", Payload::from("x".repeat(13)), none, true).unwrap();
    }
}
