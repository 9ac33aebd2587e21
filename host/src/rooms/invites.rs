//! One-time invites into a password-protected room: what its owner (or an
//! operator) hands a friend instead of the password.
//!
//! An invite is 128 random bits, admits one join, and expires after
//! [`INVITE_LIFETIME`]. A room keeps at most [`MAX_INVITES`]; asking for
//! one more forgets the oldest, so a room's invites are bounded in bytes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long an invite stays valid.
pub const INVITE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Invites a room keeps at most.
pub const MAX_INVITES: usize = 64;

/// The invites a room has handed out and not yet seen used.
#[derive(Debug, Default)]
pub struct Invites {
    issued: VecDeque<(String, Instant)>,
}

/// Why [`Invites::issue`] could not make an invite.
#[derive(Debug)]
pub struct NoRandomness;

impl std::fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system's random source failed")
    }
}

impl Invites {
    /// A new invite, valid for [`INVITE_LIFETIME`] from `now`.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn issue(&mut self, now: Instant) -> Result<String, NoRandomness> {
        let token = random_token()?;
        self.issued.retain(|(_, expires)| *expires > now);
        if self.issued.len() >= MAX_INVITES {
            self.issued.pop_front();
        }
        self.issued.push_back((token.clone(), now + INVITE_LIFETIME));
        Ok(token)
    }

    /// Whether `token` is a live invite. It stays live until
    /// [`Invites::use_up`]: a join it admitted may still fail (room full,
    /// refused by the room), and then the invite is not spent.
    pub fn is_live(&self, token: &str, now: Instant) -> bool {
        self.position(token, now).is_some()
    }

    /// Uses up `token` (a join it admitted succeeded); `false` when it was
    /// not a live invite.
    pub fn use_up(&mut self, token: &str, now: Instant) -> bool {
        match self.position(token, now) {
            Some(index) => {
                self.issued.remove(index);
                true
            }
            None => false,
        }
    }

    fn position(&self, token: &str, now: Instant) -> Option<usize> {
        self.issued
            .iter()
            .position(|(issued, expires)| *expires > now && same_secret(issued, token))
    }
}

/// 128 random bits, as 32 hex digits.
///
/// # Errors
/// When the system's random source fails.
pub(crate) fn random_token() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| NoRandomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two secrets in a time that depends on their lengths only.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_admits_once_and_expires() {
        let mut invites = Invites::default();
        let now = Instant::now();
        let once = invites.issue(now).unwrap();
        assert_eq!(once.len(), 32);
        assert!(!invites.is_live("not-an-invite", now));
        assert!(invites.is_live(&once, now));
        assert!(invites.is_live(&once, now), "checking does not spend it");
        assert!(invites.use_up(&once, now));
        assert!(!invites.is_live(&once, now), "an invite admits once");
        let late = invites.issue(now).unwrap();
        assert!(!invites.is_live(&late, now + INVITE_LIFETIME), "an invite expires");
    }

    #[test]
    fn a_room_keeps_a_bounded_number_of_invites() {
        let mut invites = Invites::default();
        let now = Instant::now();
        let first = invites.issue(now).unwrap();
        for _ in 0..MAX_INVITES {
            invites.issue(now).unwrap();
        }
        assert_eq!(invites.issued.len(), MAX_INVITES);
        assert!(!invites.is_live(&first, now), "the oldest is forgotten");
    }
}
