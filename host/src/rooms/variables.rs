//! Room variables: named values, each with its own broadcast flag, within
//! the room's budgets.
//!
//! They live in the host, not in a plugin's memory, so they survive a
//! plugin trap and a plugin reload. Values are [`Payload`]s: the bytes
//! their setter sent, handed to readers unchanged.

use std::collections::HashMap;

use bytes::BufMut;
use vampire_protocol::error::quote;
use vampire_protocol::msgpack::{self, Writer};
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

    /// Sets `name` to `value`. Its broadcast flag becomes `broadcast` when
    /// given, else stays what it was, else (a new variable) is
    /// `default_broadcast`. Returns the flag now in force.
    ///
    /// # Errors
    /// `variable_limit` when the name or value is too long, or the room
    /// would hold too many variables or bytes; nothing changes then.
    pub fn set(
        &mut self,
        name: &str,
        value: Payload,
        broadcast: Option<bool>,
        default_broadcast: bool,
    ) -> Result<bool, ApiError> {
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
        Ok(match self.entries.get_mut(name) {
            Some(variable) => {
                variable.value = value;
                if let Some(flag) = broadcast {
                    variable.broadcast = flag;
                }
                variable.broadcast
            }
            None => {
                let flag = broadcast.unwrap_or(default_broadcast);
                self.entries.insert(name.to_owned(), Variable { value, broadcast: flag });
                flag
            }
        })
    }

    /// An upper bound of the bytes [`Variables::write_map`] writes.
    pub fn encoded_size_bound(&self) -> usize {
        msgpack::header_size(self.entries.len()) + self.bytes + 5 * self.entries.len()
    }

    /// Writes every variable as a map of name to value.
    pub fn write_map<B: BufMut>(&self, w: &mut Writer<'_, B>) {
        w.map(self.entries.len());
        for (name, variable) in &self.entries {
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

    #[test]
    fn flag_is_given_then_kept_then_defaulted() {
        let mut vars = small();
        assert!(!vars.set("a", Payload::from(1), Some(false), true).unwrap());
        assert!(!vars.set("a", Payload::from(2), None, true).unwrap(), "an existing flag is kept");
        assert!(vars.set("a", Payload::from(3), Some(true), false).unwrap());
        assert!(vars.set("b", Payload::from(0), None, true).unwrap(), "new takes the default");
        assert!(!vars.set("c", Payload::from(0), None, false).unwrap());
        assert_eq!(vars.get("a").unwrap().value, Payload::from(3));
        assert_eq!(vars.len(), 3);
    }

    #[test]
    fn every_budget_is_enforced_and_a_refusal_changes_nothing() {
        let mut vars = small();
        let code = |r: Result<bool, ApiError>| r.unwrap_err().code;
        assert_eq!(
            code(vars.set("a_long_name", Payload::nil(), None, true)),
            ErrorCode::VariableLimit
        );
        assert_eq!(
            code(vars.set("a", Payload::from("x".repeat(20)), None, true)),
            ErrorCode::VariableLimit
        );
        for name in ["a", "b", "c"] {
            vars.set(name, Payload::from("x".repeat(10)), None, true).unwrap();
        }
        assert_eq!(code(vars.set("d", Payload::nil(), None, true)), ErrorCode::VariableLimit);
        // Replacing counts the difference: 3 × (1 + 11) = 36, so +5 passes 40.
        assert_eq!(
            code(vars.set("a", Payload::from("x".repeat(15)), None, true)),
            ErrorCode::VariableLimit
        );
        assert_eq!(vars.get("a").unwrap().value, Payload::from("x".repeat(10)));
        vars.set("a", Payload::from("x".repeat(13)), None, true).unwrap();
    }
}
