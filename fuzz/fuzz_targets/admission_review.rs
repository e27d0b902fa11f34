//! The admission webhook's input: an HTTP request head, then an
//! AdmissionReview body decided by a policy whose rules need no registry
//! (allow, deny, unmatched), so every step up to the response runs offline.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use slipway_admission::{Endpoint, Engine, Policy};

const POLICY: &str = r#"
unmatched = "allow"
[[rules]]
name = "blocked"
namespaces = ["blocked-*"]
images = ["**"]
action = "deny"
[[rules]]
name = "system"
images = ["registry.example.com/**", "docker.io/library/*"]
action = "allow"
"#;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(Policy::parse(POLICY, Path::new("fuzz-policy.toml")).expect("the fuzz policy"))
    })
}

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks what the rest is.
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = slipway_admission::server::parse_head(rest);
        }
        endpoint => {
            let endpoint = if endpoint == 1 {
                Endpoint::Validate
            } else {
                Endpoint::Mutate
            };
            if let Ok(answer) = engine().review(endpoint, rest) {
                // Whatever was asked, the answer is a v1 AdmissionReview.
                let v: serde_json::Value =
                    serde_json::from_slice(&answer).expect("the answer is JSON");
                assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
                assert!(v["response"]["allowed"].is_boolean());
            }
        }
    }
});
