//! Kubernetes YAML as `slipway resolve` reads it: finding the image values
//! of workloads and splicing new ones in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_resolve::scan::{render, replacement};
use slipway_resolve::{find_images, rewrite, splice};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sites) = find_images(text) else {
        return;
    };
    let mut last = 0;
    for s in &sites {
        // Ranges are in order, apart, on char boundaries, and hold exactly
        // their value's rendering.
        assert!(s.range.start >= last, "{text:?}: overlapping ranges");
        last = s.range.end;
        assert_eq!(
            text.get(s.range.clone()),
            Some(render(s.style, &s.value).as_str()),
            "{text:?}"
        );
    }
    // Identity changes no byte, by either route.
    let same: Vec<_> = sites
        .iter()
        .map(|s| (s.range.clone(), render(s.style, &s.value)))
        .collect();
    assert_eq!(splice(text, &same), text);
    assert_eq!(rewrite(text, &sites, |s| Some(s.value.clone())), text);
    // A pinned rewrite changes only the image values: the same images are
    // found again, at the same paths, holding the new values.
    let pinned = rewrite(text, &sites, |s| {
        Some(format!("{}@sha256:{}", s.value, "a".repeat(64)))
    });
    let again = find_images(&pinned)
        .unwrap_or_else(|e| panic!("{text:?} rewritten as {pinned:?} no longer reads: {e}"));
    assert_eq!(again.len(), sites.len(), "{text:?} -> {pinned:?}");
    for (a, b) in sites.iter().zip(&again) {
        assert_eq!(a.path, b.path);
        assert_eq!(b.value, format!("{}@sha256:{}", a.value, "a".repeat(64)));
        let _ = replacement(a, &b.value);
    }
});
