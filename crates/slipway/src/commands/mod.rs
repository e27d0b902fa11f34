//! One module per command.

pub mod admission;
pub mod build;
pub mod cache;
pub mod check_image;
pub mod copy;
pub mod doctor;
pub mod image;
pub mod image_ref;
pub mod inspect;
pub mod keygen;
pub mod notary;
pub mod push;
pub mod release;
pub mod resolve;
pub mod sbom;
pub mod scan;
pub mod shared_steps;
pub mod sign;
pub mod size;
pub mod strip;
pub mod targets;
pub mod transfer;
pub mod warm;
pub mod zig_cc;
