//! [`Gate`]: the password and invite check before a join of a
//! password-protected room, shared by a node's own clients (`net`) and
//! joiners another node of the cluster sends here (`cluster`), so a seat
//! is only ever reserved for a joiner who passed it.
//!
//! Checks of one room and from one client address take turns spaced by
//! their wrong guesses ([`WrongGuesses`]); argon2 runs on the blocking
//! pool, a bounded number at once ([`Passwords`]).

use std::net::IpAddr;
use std::sync::Arc;

use vampire_protocol::ErrorCode;

use crate::auth::guesses::WrongGuesses;
use crate::auth::password::Passwords;
use crate::error::ApiError;
use crate::rooms::command::Admission;
use crate::rooms::index::RoomHandle;

/// Checks room passwords and invites.
#[derive(Debug)]
pub struct Gate {
    /// Hashes and checks room passwords.
    pub passwords: Arc<Passwords>,
    /// Wrong guesses per room and per address.
    pub guesses: WrongGuesses,
}

/// Why a joiner was not let through.
#[derive(Debug)]
pub enum Refused {
    /// A wrong password or invite (counted against the room and the
    /// address; the caller may slow its own client further).
    WrongGuess(ApiError),
    /// Anything else: nothing given, or too many wrong guesses queued.
    Other(ApiError),
}

impl Gate {
    /// A gate checking passwords with `passwords`.
    pub fn new(passwords: Arc<Passwords>) -> Gate {
        Gate { passwords, guesses: WrongGuesses::default() }
    }

    /// How a joiner from `address` gets into `handle`'s room: open, with
    /// the right password (checked even beside an invite: an invite admits
    /// without the password, not with a wrong one), or with a live invite
    /// (not spent: only a join that succeeds spends it).
    ///
    /// # Errors
    /// [`Refused::WrongGuess`] for a wrong password or invite;
    /// [`Refused::Other`] when neither was given, (`rate_limited`) when
    /// the check's turn is too far away, or (`server_busy`) when too many
    /// passwords are being checked at once. The error is `not_authorized` for
    /// a public room, and for a private room the `room_not_found` a room
    /// that does not exist gets: one answer for "no such room" and "not
    /// yours to see".
    pub async fn admit(
        &self,
        handle: &RoomHandle,
        password: Option<String>,
        invite: Option<String>,
        address: IpAddr,
    ) -> Result<Admission, Refused> {
        let Some(hash) = handle.password_hash() else { return Ok(Admission::Open) };
        if invite.is_none() && password.is_none() {
            return Err(Refused::Other(refusal(handle, "this room needs a password or an invite")));
        }
        let Ok(turn) = self.guesses.take_turn(handle.id(), address) else {
            return Err(Refused::Other(ApiError::new(
                ErrorCode::RateLimited,
                "too many wrong passwords or invites for this room or from your address; try again later",
            )));
        };
        tokio::time::sleep_until(turn).await;
        let admission = match (password, invite) {
            (Some(password), _) => match self.passwords.verify(hash, password).await {
                Ok(right) => right.then_some(Admission::Password),
                Err(busy) => return Err(Refused::Other(busy)),
            },
            (None, Some(invite)) => {
                handle.invite_is_live(&invite).await.then_some(Admission::Invite)
            }
            (None, None) => None,
        };
        admission.ok_or_else(|| {
            self.guesses.record_failure(handle.id(), address);
            Refused::WrongGuess(refusal(
                handle,
                "wrong or missing room password, or an unknown, used or expired invite",
            ))
        })
    }
}

/// A join's refusal: `why` for a public room; for a private one, the
/// answer a room that does not exist gets.
fn refusal(handle: &RoomHandle, why: &str) -> ApiError {
    if handle.is_public() {
        ApiError::new(ErrorCode::NotAuthorized, why)
    } else {
        ApiError::room_not_found(handle.id())
    }
}
