//! [`ListQuery`]: which public rooms `list_rooms` returns beside their
//! type, and in what order: conditions on the rooms' metadata (equality,
//! numeric ranges), free seats, and a sort.
//!
//! On the wire these are fields of the request (PROTOCOL.md, `list_rooms`):
//!
//! ```text
//! {"op": "list_rooms", "room_type": "ctf",
//!  "filters": {"map": 2, "rating": {"min": 1200, "max": 1600}},
//!  "free_seats": true, "sort": "members_desc"}
//! ```
//!
//! A filter whose value is a map with `min` and/or `max` (numbers) and no
//! other key is a range; any other value must equal the metadata's.

use rmpv::Value;

use crate::payload::Payload;
use crate::room::RoomInfo;

/// Most conditions one query may hold.
pub const MAX_FILTERS: usize = 16;

/// One condition on a metadata key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Condition {
    /// The key's value equals this one (numbers by value: `2` and `2.0`
    /// are equal).
    Equals(Value),
    /// The key's value is a number within these bounds, inclusive.
    Within {
        /// The least value accepted, if any.
        min: Option<f64>,
        /// The greatest value accepted, if any.
        max: Option<f64>,
    },
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RoomSort {
    /// Oldest first (`"oldest"`, the default).
    #[default]
    Oldest,
    /// Newest first (`"newest"`).
    Newest,
    /// Fewest members first, then oldest (`"members_asc"`).
    FewestMembers,
    /// Most members first, then oldest (`"members_desc"`): rooms about to
    /// fill come first.
    MostMembers,
}

impl RoomSort {
    /// Every sort, as the wire names it.
    pub const NAMES: [(&'static str, RoomSort); 4] = [
        ("oldest", RoomSort::Oldest),
        ("newest", RoomSort::Newest),
        ("members_asc", RoomSort::FewestMembers),
        ("members_desc", RoomSort::MostMembers),
    ];

    /// The sort `name` names.
    pub fn parse(name: &str) -> Option<RoomSort> {
        RoomSort::NAMES.iter().find(|(n, _)| *n == name).map(|(_, sort)| *sort)
    }

    /// Its wire name.
    pub fn name(self) -> &'static str {
        RoomSort::NAMES.iter().find(|(_, sort)| *sort == self).map_or("oldest", |(n, _)| n)
    }

    /// Orders `rooms`, given oldest first, by this sort (stable: ties
    /// stay oldest first).
    pub fn apply<T>(self, rooms: &mut [T], info: impl Fn(&T) -> &RoomInfo) {
        match self {
            RoomSort::Oldest => {}
            RoomSort::Newest => rooms.reverse(),
            RoomSort::FewestMembers => rooms.sort_by_key(|room| info(room).members),
            RoomSort::MostMembers => {
                rooms.sort_by_key(|room| std::cmp::Reverse(info(room).members))
            }
        }
    }
}

/// What a listing keeps beside type and visibility, and its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Metadata conditions, every one of which must hold.
    pub filters: Vec<(String, Condition)>,
    /// Only rooms with a free seat.
    pub free_seats: bool,
    /// The order.
    pub sort: RoomSort,
}

impl ListQuery {
    /// The query of a `list_rooms` request's `filters`, `free_seats` and
    /// `sort` fields.
    ///
    /// # Errors
    /// A short sentence saying which field is wrong.
    pub fn from_request(
        filters: Option<&Payload>,
        free_seats: Option<bool>,
        sort: Option<&str>,
    ) -> Result<ListQuery, String> {
        let sort = match sort {
            None => RoomSort::Oldest,
            Some(name) => RoomSort::parse(name).ok_or_else(|| {
                let names: Vec<&str> = RoomSort::NAMES.iter().map(|(n, _)| *n).collect();
                format!("`sort` must be one of {}", names.join(", "))
            })?,
        };
        let filters = filters.map(ListQuery::parse_filters).transpose()?.unwrap_or_default();
        Ok(ListQuery { filters, free_seats: free_seats.unwrap_or(false), sort })
    }

    /// Reads the `filters` map of a request.
    ///
    /// # Errors
    /// A short sentence when it is not a map of string keys, holds more
    /// than [`MAX_FILTERS`] conditions, or a range bound is not a number.
    pub fn parse_filters(filters: &Payload) -> Result<Vec<(String, Condition)>, String> {
        let Value::Map(entries) = filters.to_value() else {
            return Err("`filters` must be a map of metadata keys to values".into());
        };
        if entries.len() > MAX_FILTERS {
            return Err(format!("`filters` holds at most {MAX_FILTERS} conditions"));
        }
        entries
            .into_iter()
            .map(|(key, value)| {
                let Value::String(key) = key else {
                    return Err("`filters` keys must be strings".to_owned());
                };
                let key = key.into_str().ok_or("`filters` keys must be UTF-8")?;
                Ok((key, condition(value)?))
            })
            .collect()
    }

    /// The `filters` map, as [`ListQuery::parse_filters`] reads it.
    pub fn filters_payload(&self) -> Payload {
        let entries = self
            .filters
            .iter()
            .map(|(key, condition)| {
                let value = match condition {
                    Condition::Equals(value) => value.clone(),
                    Condition::Within { min, max } => Value::Map(
                        [("min", min), ("max", max)]
                            .into_iter()
                            .filter_map(|(name, bound)| {
                                bound.map(|b| (Value::from(name), Value::from(b)))
                            })
                            .collect(),
                    ),
                };
                (Value::from(key.as_str()), value)
            })
            .collect();
        Payload::from_value(&Value::Map(entries))
    }

    /// The metadata that meets the query's exact conditions (a map of
    /// their keys to their values; ranges leave their keys out): what a
    /// room `join_or_create` creates shows when it is given no metadata.
    pub fn exact_metadata(&self) -> Payload {
        let entries = self
            .filters
            .iter()
            .filter_map(|(key, condition)| match condition {
                Condition::Equals(value) => Some((Value::from(key.as_str()), value.clone())),
                Condition::Within { .. } => None,
            })
            .collect();
        Payload::from_value(&Value::Map(entries))
    }

    /// Whether `room` passes every condition.
    pub fn matches(&self, room: &RoomInfo) -> bool {
        if self.free_seats && room.members >= room.max_clients {
            return false;
        }
        if self.filters.is_empty() {
            return true;
        }
        let Value::Map(metadata) = room.metadata.to_value() else { return false };
        self.filters.iter().all(|(key, condition)| {
            let found = metadata.iter().find(|(k, _)| k.as_str() == Some(key.as_str()));
            found.is_some_and(|(_, value)| holds(condition, value))
        })
    }
}

/// The condition a filter value stands for.
pub(crate) fn condition(value: Value) -> Result<Condition, String> {
    if let Value::Map(bounds) = &value
        && !bounds.is_empty()
        && bounds.iter().all(|(k, _)| matches!(k.as_str(), Some("min" | "max")))
    {
        let (mut min, mut max) = (None, None);
        for (bound, limit) in bounds {
            let limit = number(limit).ok_or("a range's `min` and `max` must be numbers")?;
            if bound.as_str() == Some("min") { min = Some(limit) } else { max = Some(limit) }
        }
        return Ok(Condition::Within { min, max });
    }
    Ok(Condition::Equals(value))
}

/// `value` as a number, when it is one.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => n.as_f64(),
        Value::F32(n) => Some(f64::from(*n)),
        Value::F64(n) => Some(*n),
        _ => None,
    }
}

/// Whether `value` meets `condition`.
pub(crate) fn holds(condition: &Condition, value: &Value) -> bool {
    match condition {
        Condition::Equals(wanted) => match (number(wanted), number(value)) {
            (Some(a), Some(b)) => a == b,
            _ => wanted == value,
        },
        Condition::Within { min, max } => number(value)
            .is_some_and(|n| min.is_none_or(|min| n >= min) && max.is_none_or(|max| n <= max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(members: u32, metadata: Value) -> RoomInfo {
        RoomInfo {
            members,
            max_clients: 4,
            metadata: Payload::from_value(&metadata),
            ..RoomInfo::default()
        }
    }

    fn query(filters: Value) -> ListQuery {
        let filters = ListQuery::parse_filters(&Payload::from_value(&filters)).unwrap();
        ListQuery { filters, ..ListQuery::default() }
    }

    #[test]
    fn equality_and_ranges_on_metadata_keys() {
        let ctf = room(
            1,
            Value::Map(vec![("mode".into(), "ctf".into()), ("rating".into(), 1400.into())]),
        );
        assert!(query(Value::Map(vec![("mode".into(), "ctf".into())])).matches(&ctf));
        assert!(!query(Value::Map(vec![("mode".into(), "dm".into())])).matches(&ctf));
        assert!(
            !query(Value::Map(vec![("map".into(), 2.into())])).matches(&ctf),
            "a missing key fails"
        );
        let range = |min: i64, max: i64| {
            Value::Map(vec![(
                "rating".into(),
                Value::Map(vec![("min".into(), min.into()), ("max".into(), max.into())]),
            )])
        };
        assert!(query(range(1200, 1600)).matches(&ctf));
        assert!(!query(range(1500, 1600)).matches(&ctf));
        assert!(
            query(Value::Map(vec![("rating".into(), Value::F64(1400.0))])).matches(&ctf),
            "numbers by value"
        );
        let back = query(range(1200, 1600));
        assert_eq!(ListQuery::parse_filters(&back.filters_payload()).unwrap(), back.filters);
    }

    #[test]
    fn exact_conditions_make_metadata_that_meets_them() {
        let range = Value::Map(vec![("min".into(), 1.into())]);
        let q = query(Value::Map(vec![("mode".into(), "ctf".into()), ("rating".into(), range)]));
        let made = q.exact_metadata().to_value();
        assert_eq!(made, Value::Map(vec![("mode".into(), "ctf".into())]), "ranges left out");
        let exact = query(Value::Map(vec![("mode".into(), "ctf".into())]));
        assert!(exact.matches(&room(0, exact.exact_metadata().to_value())));
    }

    #[test]
    fn free_seats_and_sorts() {
        let full = room(4, Value::Nil);
        assert!(!ListQuery { free_seats: true, ..ListQuery::default() }.matches(&full));
        assert!(ListQuery::default().matches(&full));
        let mut rooms = vec![room(2, Value::Nil), room(3, Value::Nil), room(1, Value::Nil)];
        RoomSort::MostMembers.apply(&mut rooms, |r| r);
        assert_eq!(rooms.iter().map(|r| r.members).collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(RoomSort::parse("members_asc"), Some(RoomSort::FewestMembers));
        assert_eq!(RoomSort::MostMembers.name(), "members_desc");
    }

    #[test]
    fn bad_filters_are_refused_with_a_reason() {
        let refused = |v: Value| ListQuery::parse_filters(&Payload::from_value(&v)).unwrap_err();
        assert!(refused(Value::from(3)).contains("map"));
        assert!(
            refused(Value::Map(vec![("r".into(), Value::Map(vec![("min".into(), "x".into())]))]))
                .contains("numbers")
        );
        let many = (0..17).map(|n| (Value::from(format!("k{n}")), Value::from(n))).collect();
        assert!(refused(Value::Map(many)).contains("at most"));
    }
}
