//! One module per command.

pub mod build;
pub mod doctor;
pub mod image;
pub mod inspect;
pub mod scan;
pub mod strip;
pub mod targets;
pub mod zig_cc;
