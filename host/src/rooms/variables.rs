//! Room variables: named values, each with its own broadcast flag.
//!
//! They live in the host, not in a plugin's memory, so they survive a
//! plugin trap and a plugin reload.

use std::collections::HashMap;

use serde_json::Map;
use vampire_protocol::Value;

/// One variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Current value.
    pub value: Value,
    /// Whether changes are sent to members (when the room broadcasts at
    /// all).
    pub broadcast: bool,
}

/// The variables of one room.
#[derive(Debug, Default)]
pub struct Variables {
    entries: HashMap<String, Variable>,
}

impl Variables {
    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.entries.get(name)
    }

    /// Sets `name` to `value`. Its broadcast flag becomes `broadcast` when
    /// given, else stays what it was, else (a new variable) is
    /// `default_broadcast`. Returns the flag now in force.
    pub fn set(
        &mut self,
        name: &str,
        value: Value,
        broadcast: Option<bool>,
        default_broadcast: bool,
    ) -> bool {
        match self.entries.get_mut(name) {
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
        }
    }

    /// Every variable's value, as sent in `join` and `get_variables`.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.entries.iter().map(|(name, variable)| (name.clone(), variable.value.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flag_is_given_then_kept_then_defaulted() {
        let mut vars = Variables::default();
        assert!(!vars.set("a", json!(1), Some(false), true));
        assert!(!vars.set("a", json!(2), None, true), "an existing flag is kept");
        assert!(vars.set("a", json!(3), Some(true), false));
        assert!(vars.set("b", json!(0), None, true), "a new variable takes the default");
        assert!(!vars.set("c", json!(0), None, false));
        assert_eq!(vars.get("a").unwrap().value, json!(3));
        assert_eq!(vars.snapshot().len(), 3);
    }
}
