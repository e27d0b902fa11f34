//! One module per command.

pub mod build;
pub mod doctor;
pub mod image;
pub mod inspect;
pub mod keygen;
pub mod strip;
pub mod targets;
pub mod zig_cc;
