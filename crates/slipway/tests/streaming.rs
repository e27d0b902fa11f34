//! Issue #12 §5: an image with a 1 GiB layer goes registry → archive →
//! registry with slipway's address space capped at 256 MiB (`ulimit -v`),
//! so no step holds a layer in memory.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};
use slipway_testkit::registry::TestRegistry;

const GIB: usize = 1 << 30;
const CAP_KIB: u64 = 256 * 1024;

/// Write `size` bytes of cheap, incompressible-looking data; return its digest.
fn random_blob(path: &Path, size: usize) -> String {
    let mut f = std::io::BufWriter::with_capacity(4 << 20, std::fs::File::create(path).unwrap());
    let mut hasher = Sha256::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..size / buf.len() {
        for chunk in buf.chunks_exact_mut(8) {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        hasher.update(&buf);
        f.write_all(&buf).unwrap();
    }
    f.flush().unwrap();
    format!("sha256:{}", hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn put(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let d = hex(&Sha256::digest(bytes));
    std::fs::write(dir.join("blobs/sha256").join(&d), bytes).unwrap();
    (format!("sha256:{d}"), bytes.len())
}

/// An OCI layout holding one image whose only layer is 1 GiB.
fn big_layout(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tmp = dir.join("layer.tmp");
    let layer = random_blob(&tmp, GIB);
    std::fs::rename(&tmp, dir.join("blobs/sha256").join(&layer[7..])).unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}},"config":{{}}}}"#
    );
    let (config, config_size) = put(dir, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{GIB}}}]}}"#
    );
    let (digest, size) = put(dir, manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{size},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
    );
    std::fs::write(dir.join("index.json"), index).unwrap();
    (digest, layer)
}

/// `slipway copy SRC DST` with the address space capped.
fn capped_copy(src: &str, dst: &str) {
    capped_copy_with(src, dst, &[]);
}

/// `slipway copy SRC DST EXTRA...` with the address space capped.
fn capped_copy_with(src: &str, dst: &str, extra: &[&str]) {
    let bin = assert_cmd::cargo::cargo_bin!("slipway");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {CAP_KIB} && exec \"$0\" copy \"$1\" \"$2\" {}",
            extra.join(" ")
        ))
        .arg(bin)
        .arg(src)
        .arg(dst)
        // glibc reserves 64 MiB of address space per thread arena; two arenas
        // keep the reservation, not the use, from dominating a 256 MiB cap.
        .env("MALLOC_ARENA_MAX", "2")
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "slipway copy {src} {dst} under a {CAP_KIB} KiB address-space cap failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_1_gib_layer_copies_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let (digest, layer) = big_layout(&layout);
    let reg = TestRegistry::plain();
    let archive = tmp.path().join("big.tar");

    capped_copy(
        &format!("oci:{}", layout.display()),
        &reg.reference("big/one:v1"),
    );
    // The layout's blobs are no longer needed: keep the disk use down.
    std::fs::remove_dir_all(&layout).unwrap();
    capped_copy(
        &reg.reference("big/one:v1"),
        &format!("oci-archive:{}", archive.display()),
    );
    assert!(std::fs::metadata(&archive).unwrap().len() > GIB as u64);
    capped_copy(
        &format!("oci-archive:{}", archive.display()),
        &reg.reference("big/two:v1"),
    );
    assert_eq!(reg.tag_digest("big/two", "v1"), Some(digest.clone()));
    assert_eq!(reg.tag_digest("big/one", "v1"), Some(digest));
    // The layer arrived whole (the registry checks a blob's digest on upload).
    let head = Command::new("curl")
        .args(["-sfI", &format!("{}/v2/big/two/blobs/{layer}", reg.url())])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&head.stdout).to_lowercase();
    assert!(text.contains(&format!("content-length: {GIB}")), "{text}");

    // Converting the 1 GiB layer to zstd (and the result to gzip) streams
    // too; what arrives uncompresses to the same diff_id (checked by
    // Debian's zstd, outside slipway).
    capped_copy_with(
        &reg.reference("big/two:v1"),
        &reg.reference("big/zstd:v1"),
        &["--compression", "zstd:1"],
    );
    capped_copy_with(
        &reg.reference("big/zstd:v1"),
        &reg.reference("big/gzip:v1"),
        &["--compression", "gzip:1"],
    );
    let manifest = |repo: &str| -> serde_json::Value {
        let out = Command::new("curl")
            .args([
                "-sf",
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                &format!("{}/v2/{repo}/manifests/v1", reg.url()),
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (z, g) = (manifest("big/zstd"), manifest("big/gzip"));
    assert_eq!(
        z["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        g["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        z["config"], g["config"],
        "the config (and its diff_ids) is unchanged"
    );
    let zstd = slipway_testkit::require("zstd", "zstd");
    let check = Command::new("sh")
        .arg("-c")
        .arg("curl -sf \"$0\" | \"$1\" -d -c -q | sha256sum")
        .arg(format!(
            "{}/v2/big/zstd/blobs/{}",
            reg.url(),
            z["layers"][0]["digest"].as_str().unwrap()
        ))
        .arg(zstd)
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&check.stdout);
    assert!(sum.starts_with(&layer[7..]), "zstd -d | sha256sum: {sum}");
}
