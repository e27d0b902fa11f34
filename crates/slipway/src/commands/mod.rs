//! One module per command.

pub mod build;
pub mod doctor;
pub mod image;
pub mod targets;
pub mod zig_cc;
