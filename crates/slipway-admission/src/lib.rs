//! A Kubernetes admission webhook (`admission.k8s.io/v1`) that admits a Pod
//! or workload only when each container image verifies against a policy:
//! cosign keys, Notary trust policies and required attestations, chosen per
//! namespace and image pattern. The mutating endpoint pins every tag to the
//! digest that was verified. See docs/admission.md.

pub mod cache;
pub mod engine;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod review;
pub mod server;
pub mod verify;

use std::path::PathBuf;

pub use engine::Engine;
pub use metrics::Endpoint;
pub use policy::Policy;
pub use reload::{Current, Watch};
pub use server::{Limits, Server, tls_config};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy file is unreadable or wrong.
    #[error("{}: {msg}", path.display())]
    Policy { path: PathBuf, msg: String },
    /// The TLS certificate or key is unreadable or wrong.
    #[error("{}: {msg}", path.display())]
    Tls { path: PathBuf, msg: String },
    /// (The I/O error is in the message, not a `source`, so it is printed once.)
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: String, error: std::io::Error },
}
