//! [`ApiError`]: a failure a client is told about, in the one shape the
//! wire protocol defines (a stable code and a one-line message).

pub use vampire_protocol::error::{ApiError, MAX_ERROR_MESSAGE_BYTES};
