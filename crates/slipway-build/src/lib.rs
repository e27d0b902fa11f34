//! Building one Go main package for a matrix of targets: planned and validated
//! first, then `go build` per target in parallel in a hermetic environment,
//! checked, and installed into the output directory all at once.

pub mod advice;
pub mod env;
mod error;
mod fresh;
mod install;
mod plan;
mod post_link;
mod run;

pub use error::{BuildError, ErrorKind};
pub use install::{Artifact, OutDir, install};
pub use plan::{BuildRequest, Plan, PlannedTarget, plan, validate_request};
pub use post_link::{PostLinked, StripPolicy, check, post_link};
pub use run::{Built, Event, execute};
pub use slipway_toolchain::PASSED_THROUGH;
