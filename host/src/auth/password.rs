//! Room passwords, kept as argon2id hashes (PHC strings) and never as
//! given.
//!
//! Hashing and checking cost tens of milliseconds and about 19 MiB each
//! (argon2's recommended parameters), on purpose: that is what makes a
//! stolen hash or a guessing client slow. So they run on the blocking
//! pool, never on a thread that serves connections, and only a few at a
//! time ([`Passwords::new`]): a burst of joins waits its turn instead of
//! taking the server's memory.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;
use vampire_protocol::ErrorCode;

use crate::error::ApiError;

/// Longest room password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// How long a hash or check waits for its turn before it is refused with
/// `server_busy`: a burst of checks queues, but not without bound.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Makes and checks password hashes, a bounded number at once.
#[derive(Debug)]
pub struct Passwords {
    permits: Semaphore,
}

impl Passwords {
    /// Hashes and checks at most `concurrent` passwords at once.
    pub fn new(concurrent: usize) -> Passwords {
        Passwords { permits: Semaphore::new(concurrent.max(1)) }
    }

    /// The hash to keep for `password`, with a fresh random salt.
    ///
    /// # Errors
    /// `invalid_request` for an empty password or one longer than
    /// [`MAX_PASSWORD_BYTES`]; `internal` if hashing fails.
    pub async fn hash(&self, password: String) -> Result<Arc<str>, ApiError> {
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("a room password has 1 to {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        let _permit = self.turn().await?;
        let hashed = tokio::task::spawn_blocking(move || {
            Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string())
        })
        .await;
        match hashed {
            Ok(Ok(hash)) => Ok(hash.into()),
            _ => Err(ApiError::new(ErrorCode::Internal, "the password could not be hashed")),
        }
    }

    /// Whether `password` is the one `hash` was made from. The comparison
    /// takes the same time whatever the password.
    ///
    /// # Errors
    /// `server_busy` when the check waited [`MAX_QUEUE_WAIT`] for its turn.
    pub async fn verify(&self, hash: Arc<str>, password: String) -> Result<bool, ApiError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let _permit = self.turn().await?;
        Ok(tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
            })
        })
        .await
        .unwrap_or(false))
    }

    /// One of the permits to run argon2, within [`MAX_QUEUE_WAIT`].
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(MAX_QUEUE_WAIT, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                ErrorCode::ServerBusy,
                "too many room passwords are being checked; try again",
            )),
        }
    }
}
