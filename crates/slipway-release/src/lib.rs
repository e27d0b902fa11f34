//! Release channels: named, mutable pointers in a repository that slipway
//! only ever moves to a digest, after the image passes the channel's policy,
//! and whose every move is recorded in a signed, hash-chained audit log
//! stored in the registry next to the image.

mod channel;
mod error;

pub use channel::ChannelName;
pub use error::{Error, Result};
