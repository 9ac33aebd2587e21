//! Matchmaker tickets on the wire: a ticket's `properties` (what the
//! player is) and its `query` (whom it accepts), and whether two tickets
//! accept each other.
//!
//! ```text
//! {"op": "matchmaker_add", "queue": "ranked",
//!  "properties": {"mode": "ctf", "rating": 1510},
//!  "query": {"mode": "ctf", "rating": {"within": 100, "widen": 50, "every_ms": 10000}}}
//! ```
//!
//! A query maps property names to conditions: a value to equal (numbers by
//! value), `{min, max}` for a numeric range (as listings take them), or
//! `{within, widen, every_ms}`, a window around the ticket's own value of
//! that property that widens with waiting: `within + widen × (waited ms /
//! every_ms)`, rounded down to whole steps (`widen` 0 and `every_ms` 10 000
//! by default).

use rmpv::Value;
use serde::{Deserialize, Serialize};

use crate::listing::{self, Condition};
use crate::payload::Payload;

/// Most properties one ticket may carry, and most conditions its query
/// may hold.
pub const MAX_TICKET_ENTRIES: usize = 16;

/// Default of [`TicketCondition::Near`]'s `every_ms`.
pub const DEFAULT_WIDEN_EVERY_MS: u64 = 10_000;

/// One condition of a ticket's query on another ticket's property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TicketCondition {
    /// Equality or a fixed range, as listings read them.
    Fixed(Condition),
    /// Within a window around this ticket's own value of the property.
    Near {
        /// The window's half-width at first.
        within: f64,
        /// What it grows by each step.
        widen: f64,
        /// The step, in milliseconds of waiting.
        every_ms: u64,
    },
}

/// A ticket's properties: names and values.
pub type Properties = Vec<(String, Value)>;

/// A ticket's query: property names and conditions.
pub type TicketQuery = Vec<(String, TicketCondition)>;

/// Reads a ticket's `properties` (nil for none).
///
/// # Errors
/// A short sentence when it is not a map of string keys or holds more than
/// [`MAX_TICKET_ENTRIES`].
pub fn parse_properties(properties: Option<&Payload>) -> Result<Properties, String> {
    entries(properties, "properties")
}

/// Reads a ticket's `query` against its own `properties` (a window needs
/// the ticket's own value).
///
/// # Errors
/// A short sentence when the query is not a map of string keys, holds more
/// than [`MAX_TICKET_ENTRIES`], a bound or window is not a number, or a
/// window names a property the ticket lacks or that is not a number.
pub fn parse_query(query: Option<&Payload>, own: &Properties) -> Result<TicketQuery, String> {
    entries(query, "query")?
        .into_iter()
        .map(|(key, value)| {
            let condition = match near(&value)? {
                Some(near) => {
                    let mine = own.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
                    if mine.and_then(listing::number).is_none() {
                        return Err(format!(
                            "the window on `{}` needs a number in the ticket's own properties",
                            crate::error::quote(&key)
                        ));
                    }
                    near
                }
                None => TicketCondition::Fixed(listing::condition(value)?),
            };
            Ok((key, condition))
        })
        .collect()
}

/// Whether a ticket with `query` and `own` properties, which has waited
/// `waited_ms`, accepts a ticket with `theirs`.
pub fn accepts(query: &TicketQuery, own: &Properties, waited_ms: u64, theirs: &Properties) -> bool {
    query.iter().all(|(key, condition)| {
        let Some(value) = find(theirs, key) else { return false };
        match condition {
            TicketCondition::Fixed(fixed) => listing::holds(fixed, value),
            TicketCondition::Near { within, widen, every_ms } => {
                let (Some(mine), Some(other)) =
                    (find(own, key).and_then(listing::number), listing::number(value))
                else {
                    return false;
                };
                let steps = waited_ms / (*every_ms).max(1);
                (mine - other).abs() <= within + widen * steps as f64
            }
        }
    })
}

/// How many times `query`'s windows have widened after `waited_ms`: a
/// ticket whose windows widened may match tickets it did not before.
pub fn widenings(query: &TicketQuery, waited_ms: u64) -> u64 {
    query
        .iter()
        .map(|(_, condition)| match condition {
            TicketCondition::Near { widen, every_ms, .. } if *widen > 0.0 => {
                waited_ms / (*every_ms).max(1)
            }
            _ => 0,
        })
        .sum()
}

fn find<'a>(properties: &'a Properties, key: &str) -> Option<&'a Value> {
    properties.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A window condition, when `value` is one (a map with `within`).
fn near(value: &Value) -> Result<Option<TicketCondition>, String> {
    let Value::Map(fields) = value else { return Ok(None) };
    if !fields.iter().any(|(k, _)| k.as_str() == Some("within")) {
        return Ok(None);
    }
    let (mut within, mut widen, mut every_ms) = (0.0, 0.0, DEFAULT_WIDEN_EVERY_MS);
    for (name, field) in fields {
        let number = listing::number(field).filter(|n| n.is_finite() && *n >= 0.0);
        let number =
            number.ok_or("a window's `within`, `widen` and `every_ms` must be numbers >= 0")?;
        match name.as_str() {
            Some("within") => within = number,
            Some("widen") => widen = number,
            Some("every_ms") => every_ms = (number as u64).max(1),
            _ => return Err("a window takes `within`, `widen` and `every_ms` only".into()),
        }
    }
    Ok(Some(TicketCondition::Near { within, widen, every_ms }))
}

/// A map of string keys to values (nil for none), at most
/// [`MAX_TICKET_ENTRIES`].
fn entries(map: Option<&Payload>, name: &str) -> Result<Vec<(String, Value)>, String> {
    let Some(map) = map else { return Ok(Vec::new()) };
    let value = map.to_value();
    let entries = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(entries) => entries,
        _ => return Err(format!("`{name}` must be a map of names to values")),
    };
    if entries.len() > MAX_TICKET_ENTRIES {
        return Err(format!("`{name}` holds at most {MAX_TICKET_ENTRIES} entries"));
    }
    entries
        .into_iter()
        .map(|(key, value)| match key {
            Value::String(key) => key
                .into_str()
                .map(|key| (key, value))
                .ok_or_else(|| format!("`{name}` keys must be UTF-8")),
            _ => Err(format!("`{name}` keys must be strings")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: Vec<(&str, Value)>) -> Payload {
        Payload::from_value(&Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect()))
    }

    fn rated(rating: i64) -> Properties {
        parse_properties(Some(&map(vec![("mode", "ctf".into()), ("rating", rating.into())])))
            .unwrap()
    }

    #[test]
    fn a_window_widens_with_waiting() {
        let own = rated(1500);
        let window = map(vec![
            ("mode", "ctf".into()),
            (
                "rating",
                Value::Map(vec![
                    ("within".into(), 100.into()),
                    ("widen".into(), 50.into()),
                    ("every_ms".into(), 10_000.into()),
                ]),
            ),
        ]);
        let query = parse_query(Some(&window), &own).unwrap();
        assert!(accepts(&query, &own, 0, &rated(1600)));
        assert!(!accepts(&query, &own, 9_999, &rated(1650)));
        assert!(accepts(&query, &own, 10_000, &rated(1650)), "one step: ± 150");
        assert!(accepts(&query, &own, 60_000, &rated(1900)), "six steps: ± 400");
        assert!(!accepts(&query, &own, 60_000, &rated(1901)));
        assert_eq!(widenings(&query, 25_000), 2);
        let dm = parse_properties(Some(&map(vec![("mode", "dm".into()), ("rating", 1500.into())])));
        assert!(!accepts(&query, &own, 0, &dm.unwrap()), "equality holds too");
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        let own = rated(1500);
        let refused = |q: Payload| parse_query(Some(&q), &own).unwrap_err();
        let no_own = map(vec![("skill", Value::Map(vec![("within".into(), 1.into())]))]);
        assert!(refused(no_own).contains("own properties"));
        let bad = map(vec![("rating", Value::Map(vec![("within".into(), "x".into())]))]);
        assert!(refused(bad).contains("numbers"));
        assert!(parse_properties(Some(&Payload::from_value(&Value::from(3)))).is_err());
    }
}
