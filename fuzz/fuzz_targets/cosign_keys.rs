//! Key files: cosign's encrypted private keys, PKCS#8 and SEC1 private keys,
//! PKIX public keys, and the PEM armour around all of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_attest::{PublicKey, SigningKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = PublicKey::from_der(data);
        return;
    };
    let _ = SigningKey::pem_is_encrypted(text);
    // The seeds' password; anything else fails at decryption, which is fine.
    let _ = SigningKey::from_pem(text, b"fuzz");
    if let Ok(key) = PublicKey::from_pem(text) {
        let _ = key.fingerprint();
        let _ = key.verify(
            b"message",
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        );
    }
});
