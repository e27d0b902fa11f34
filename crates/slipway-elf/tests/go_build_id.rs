//! Reading Go's build ID from the first bytes of a file: found in a real
//! note, absent from a non-Go binary, and never a panic on damaged input.

use slipway_elf::go_build_id;
use slipway_testkit::elf_with_go_note;

#[test]
fn reads_go_build_ids_and_survives_garbage() {
    assert_eq!(
        go_build_id(&elf_with_go_note("abc/def")).as_deref(),
        Some("abc/def")
    );
    let real = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert_eq!(
        go_build_id(&real[..(64 * 1024).min(real.len())]),
        None,
        "a Rust binary has no Go note"
    );
    let good = elf_with_go_note("abc/def");
    // Cut anywhere before the ID's last byte (the final byte is padding).
    for len in 0..good.len() - 1 {
        assert_eq!(go_build_id(&good[..len]), None, "truncated at {len}");
    }
    let mut bad = good.clone();
    bad[0x38] = 0xff; // absurd program header count
    let _ = go_build_id(&bad);
    bad[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(go_build_id(&bad), None);
}

proptest::proptest! {
    /// Any mutation of a valid file gives an ID or nothing, never a panic.
    #[test]
    fn mutated_headers_never_panic(
        edits in proptest::collection::vec((0usize..160, proptest::num::u8::ANY), 1..12),
    ) {
        let mut f = elf_with_go_note("abc/def");
        for (at, byte) in edits {
            if let Some(b) = f.get_mut(at) {
                *b = byte;
            }
        }
        let _ = go_build_id(&f);
    }
}
