//! Sign and verify time per image, in process (no registry): key decryption
//! (scrypt N=65536, paid once per command), one signature added to a `.sig`
//! set, and its verification.
//!
//! cargo run --release -p slipway-attest --example sign_bench

use std::time::Instant;

use slipway_attest::{SignatureSet, SigningKey};
use slipway_oci::Digest;

fn main() {
    let key = SigningKey::generate().expect("key");
    let pem = key.to_encrypted_pem(b"pw").expect("pem");
    let t = Instant::now();
    let key = SigningKey::from_pem(&pem, b"pw").expect("decrypt");
    let decrypt = t.elapsed();
    let public = key.public_key();

    let n = 1000;
    let images: Vec<Digest> = (0..n).map(|i: u32| Digest::of(&i.to_le_bytes())).collect();
    let t = Instant::now();
    let written: Vec<_> = images
        .iter()
        .map(|d| {
            let mut set = SignatureSet::new();
            set.sign(&key, "registry.example.com/team/svc", d);
            set.to_manifest()
        })
        .collect();
    let sign = t.elapsed() / n;
    let t = Instant::now();
    for (d, w) in images.iter().zip(&written) {
        let set = SignatureSet::from_manifest(&w.bytes).expect("manifest");
        let fetch = |x: &Digest| {
            w.blobs
                .iter()
                .find(|b| &b.digest == x)
                .map(|b| b.bytes.clone())
                .ok_or("missing")
        };
        set.verify(d, &public, fetch).expect("verify");
    }
    let verify = t.elapsed() / n;
    println!(
        "key decryption (scrypt N=65536): {:.1} ms",
        decrypt.as_secs_f64() * 1e3
    );
    println!(
        "sign one image (payload, signature, manifest): {:.1} us",
        sign.as_secs_f64() * 1e6
    );
    println!(
        "verify one image (parse, digest, signature): {:.1} us",
        verify.as_secs_f64() * 1e6
    );
    println!(
        "verify/sign ratio: {:.2}",
        verify.as_secs_f64() / sign.as_secs_f64()
    );
}
