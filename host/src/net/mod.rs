//! Networking: the TCP listener, one task pair per connection, request
//! decoding and the per-connection session.

pub mod connection;
pub mod listener;
pub mod outbound;
pub mod request;
pub mod session;

pub use outbound::ClientHandle;
