//! One module per command.

pub mod admission;
pub mod build;
pub mod check_image;
pub mod copy;
pub mod doctor;
pub mod image;
pub mod image_ref;
pub mod inspect;
pub mod keygen;
pub mod notary;
pub mod push;
pub mod sbom;
pub mod scan;
pub mod sign;
pub mod strip;
pub mod targets;
pub mod transfer;
pub mod warm;
pub mod zig_cc;
