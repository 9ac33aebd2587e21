//! Forming matches from one queue's waiting tickets: pure, so the same
//! rules serve one node's pool and a cluster's.
//!
//! Oldest first, each ticket that may match now anchors a group: the
//! tickets (oldest first) that accept every ticket of the group and that
//! every ticket of the group accepts, until the queue's `maxPlayers`. A
//! full group is a match; so is one of `minPlayers` or more once its anchor
//! has waited `startWithFewerAfterMs`. A ticket is in one group at most.
//!
//! Only tickets that may match now anchor a group: new ones, those whose
//! windows widened, and those that just reached the time to start with
//! fewer ([`Anchors`]). A ticket that could not anchor a match at the last
//! pass cannot now unless one of these changed, so a pass over 10,000
//! waiting tickets costs what the changed ones cost.

use std::collections::HashMap;

use vampire_protocol::matchmaking::{accepts, widenings};

use crate::config::QueueConfig;
use crate::matchmaking::ticket::Ticket;

/// What the last pass saw of each ticket: its windows' widenings, and
/// whether it had waited long enough to start with fewer.
#[derive(Debug, Default)]
pub struct Anchors {
    seen: HashMap<String, (u64, bool)>,
}

/// The matches one pass forms (indexes into its tickets) and the tickets
/// whose time is up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Groups of tickets, each a match.
    pub matches: Vec<Vec<usize>>,
    /// Tickets that waited their queue's `ticketTimeoutMs`.
    pub expired: Vec<usize>,
}

impl Anchors {
    /// Forms `queue`'s matches from `tickets` (oldest first) at `now_ms`.
    pub fn pass(&mut self, queue: &QueueConfig, tickets: &[Ticket], now_ms: u64) -> Pass {
        let mut pass = Pass::default();
        let mut taken = vec![false; tickets.len()];
        let waited = |t: &Ticket| now_ms.saturating_sub(t.created_unix_ms);
        let fewer_after = queue.start_with_fewer_after_ms;
        let mut seen = HashMap::with_capacity(tickets.len());
        for (n, ticket) in tickets.iter().enumerate() {
            if waited(ticket) >= queue.ticket_timeout_ms {
                taken[n] = true;
                pass.expired.push(n);
            }
        }
        for anchor in 0..tickets.len() {
            let ticket = &tickets[anchor];
            let now = (widenings(&ticket.query, waited(ticket)), waited(ticket) >= fewer_after);
            let before = self.seen.get(&ticket.id).copied();
            seen.insert(ticket.id.clone(), now);
            if taken[anchor] || before == Some(now) {
                continue;
            }
            let group = group(queue, tickets, anchor, &taken, &waited);
            let full = group.len() as u32 >= queue.max_players;
            let enough = group.len() as u32 >= queue.min_players && now.1;
            if full || enough {
                for &member in &group {
                    taken[member] = true;
                }
                // Oldest ticket first, whichever anchored the group.
                let mut group = group;
                group.sort_unstable();
                pass.matches.push(group);
            }
        }
        self.seen = seen;
        pass
    }
}

/// The group `anchor` forms with the tickets not yet `taken`.
fn group(
    queue: &QueueConfig,
    tickets: &[Ticket],
    anchor: usize,
    taken: &[bool],
    waited: &impl Fn(&Ticket) -> u64,
) -> Vec<usize> {
    let mut group = vec![anchor];
    for candidate in 0..tickets.len() {
        if group.len() as u32 >= queue.max_players {
            break;
        }
        if candidate == anchor || taken[candidate] {
            continue;
        }
        let other = &tickets[candidate];
        let mutual = group.iter().all(|&member| {
            let member = &tickets[member];
            accepts(&member.query, &member.properties, waited(member), &other.properties)
                && accepts(&other.query, &other.properties, waited(other), &member.properties)
        });
        if mutual {
            group.push(candidate);
        }
    }
    group
}

#[cfg(test)]
mod tests {
    use vampire_protocol::Payload;
    use vampire_protocol::Value;
    use vampire_protocol::matchmaking::{parse_properties, parse_query};

    use super::*;

    fn queue(min: u32, max: u32) -> QueueConfig {
        QueueConfig {
            name: "q".into(),
            room_type: "generic".into(),
            min_players: min,
            max_players: max,
            start_with_fewer_after_ms: 5_000,
            ticket_timeout_ms: 60_000,
            properties: Default::default(),
        }
    }

    fn ticket(id: &str, rating: i64, within: i64, created: u64) -> Ticket {
        let props = Payload::from_value(&Value::Map(vec![("rating".into(), rating.into())]));
        let properties = parse_properties(Some(&props)).unwrap();
        let window =
            Value::Map(vec![("within".into(), within.into()), ("widen".into(), 50.into())]);
        let query = Payload::from_value(&Value::Map(vec![("rating".into(), window)]));
        let query = parse_query(Some(&query), &properties).unwrap();
        Ticket { id: id.into(), created_unix_ms: created, properties, query, ..Ticket::default() }
    }

    #[test]
    fn mutual_acceptance_forms_full_groups_and_a_ticket_joins_one() {
        let mut anchors = Anchors::default();
        let tickets = [
            ticket("a", 1000, 100, 0),
            ticket("b", 1090, 100, 1),
            ticket("c", 1500, 100, 2),
            ticket("d", 1050, 100, 3),
            ticket("e", 1100, 10, 4),
        ];
        let pass = anchors.pass(&queue(3, 3), &tickets, 10);
        // e is within a's window but a is not within e's.
        assert_eq!(pass.matches, vec![vec![0, 1, 3]]);
        // A new ticket that completes a group anchors it; the match still
        // lists the oldest first.
        let mut anchors = Anchors::default();
        let _ = anchors.pass(&queue(2, 2), &tickets[..1], 10);
        let later = anchors.pass(&queue(2, 2), &tickets[..2], 10);
        assert_eq!(later.matches, vec![vec![0, 1]]);
        let again = anchors.pass(&queue(3, 3), &tickets[2..3], 10);
        assert!(again.matches.is_empty() && again.expired.is_empty());
    }

    #[test]
    fn windows_widen_and_fewer_start_after_waiting() {
        let mut anchors = Anchors::default();
        let tickets = [ticket("a", 1000, 100, 0), ticket("b", 1140, 100, 0)];
        assert!(anchors.pass(&queue(2, 4), &tickets, 1_000).matches.is_empty());
        // At 10 s each window is ± 150, and both waited past 5 s.
        assert_eq!(anchors.pass(&queue(2, 4), &tickets, 10_000).matches, vec![vec![0, 1]]);
        let expired = Anchors::default().pass(&queue(2, 4), &tickets, 60_000);
        assert_eq!(expired.expired, vec![0, 1]);
    }
}
