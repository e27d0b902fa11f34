//! How fast `slipway resolve` finds and replaces image values, without the
//! registry: a multi-document file of Deployments, CronJobs and Rollouts in
//! block and flow style with comments, scanned and rewritten repeatedly.
//!
//! `cargo run --release -p slipway-resolve --example scan_bench [DOCUMENTS]`

use std::time::Instant;

use slipway_resolve::{find_images, rewrite};

fn manifest(documents: usize) -> String {
    let mut s = String::new();
    for i in 0..documents {
        match i % 3 {
            0 => s.push_str(&format!(
                "# service {i}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  labels: {{app: svc-{i}, tier: \"backend\"}}\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: svc-{i}}}}}\n  template:\n    metadata: {{labels: {{app: svc-{i}}}}}\n    spec:\n      initContainers:\n      - name: migrate\n        image: \"registry.example.com/team/migrate:{i}\"\n      containers:\n      - name: app   # the service\n        image: registry.example.com/team/svc-{i}:v1.{i}\n        args: [--port, \"8080\"]\n        ports: [{{containerPort: 8080}}]\n      - {{name: proxy, image: 'envoyproxy/envoy:v1.29.0'}}\n---\n"
            )),
            1 => s.push_str(&format!(
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: job-{i}}}\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: job\n            image: busybox:1.36\n            command: [sh, -c, 'echo {i}']\n---\n"
            )),
            _ => s.push_str(&format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web-{i}\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      - pause: {{}}\n  template:\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/team/web\n---\n"
            )),
        }
    }
    s
}

fn main() {
    let documents: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let text = manifest(documents);
    let mb = text.len() as f64 / 1e6;
    let rounds = 10;
    let mut images = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        let sites = find_images(&text).expect("the generated manifest reads");
        images = sites.len();
        let out = rewrite(&text, &sites, |s| {
            Some(format!("{}@sha256:{}", s.value, "0".repeat(64)))
        });
        assert!(out.len() > text.len());
    }
    let per = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "{documents} documents, {:.2} MB, {images} images: find + rewrite in {:.1} ms ({:.1} MB/s, {:.0} images/ms)",
        mb,
        per * 1e3,
        mb / per,
        images as f64 / (per * 1e3)
    );
}
