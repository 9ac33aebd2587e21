//! The MessagePack primitives VampireTCP's codecs are built from: a strict
//! validator ([`validate`], [`value_len`]), a cursor that reads typed items
//! ([`Reader`]) and an encoder over any [`BufMut`] ([`Writer`]).
//!
//! The wire protocol (`vampire-protocol`), the plugin ABI (`vampire-abi`),
//! the server and the guest SDK all read and write MessagePack by hand
//! with these rather than through serde, for two reasons: values the
//! server does not interpret (message data, variable values, method
//! arguments) are carried as their sender's own bytes, which serde cannot
//! splice, and every refusal can say exactly what was wrong. The crate
//! depends on nothing but `bytes`, so a plugin compiled to WebAssembly can
//! use it too.
//!
//! # Layout
//! - [`validate`](mod@validate): [`validate`], [`value_len`], [`ValueError`].
//! - [`reader`]: [`Reader`], typed reads, [`Mismatch`].
//! - [`writer`]: [`Writer`], shortest encodings, and the sizes they take.
//! - [`fields`]: [`FieldWriter`], a map whose fields are counted as they
//!   are written.

pub mod fields;
pub mod reader;
pub mod validate;
pub mod writer;

pub use fields::FieldWriter;
pub use reader::{Mismatch, Reader};
pub use validate::{MAX_NESTING, ValueError, type_name, validate, value_len};
pub use writer::{Writer, header_size, str_size};
