//! [`lock`]: taking a `std::sync::Mutex` whatever an earlier holder did.
//!
//! The host's mutexes guard short critical sections (an insert, a remove,
//! a few field updates) that a panic cannot leave half done, so a lock
//! poisoned by a panicking holder is safe to keep using; refusing it would
//! turn one task's panic into every later task's.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking it back from a poisoned state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
