//! Release channels: named, mutable pointers in a repository that slipway
//! only ever moves to a digest, after the image passes the channel's policy,
//! and whose every move is recorded in a signed, hash-chained audit log
//! stored in the registry next to the image.
//!
//! - [`ChannelName`]: channel names and the tags that hold them.
//! - [`policy`]: `[channels."NAME"]` and checking an image against it.
//! - [`release`]: promote, rollback and mark-bad, safe against races.
//! - [`entry`] and [`log`]: the audit entries and their hash chain.
//! - [`history`]: reading a log, and carrying logs along with a copy.
//! - [`timing`]: `SLIPWAY_TIMINGS=1` shows where a command's time goes.

mod channel;
pub mod entry;
mod error;
pub mod history;
pub mod log;
pub mod policy;
pub mod release;
pub mod timing;
mod verify;

pub use channel::ChannelName;
pub use error::{Error, Result, Tamper};
pub use log::{Chain, Log};
pub use policy::{ChannelPolicy, Policy};
pub use release::{Actor, Clock, OperatorKey, Outcome, SystemClock};
