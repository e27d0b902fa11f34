//! ECDSA P-256 key pairs in the files cosign reads and writes.
//!
//! The private key file is cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` PEM: its
//! body is a JSON object naming the KDF (scrypt) and the cipher (NaCl
//! secretbox), and the ciphertext is the PKCS#8 DER key sealed with
//! XSalsa20-Poly1305 under `scrypt(password, salt)`. The public key is a PKIX
//! `PUBLIC KEY` PEM. Plain PKCS#8 (`PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`)
//! files are read too, so keys made by openssl work.
//!
//! Nothing here prints or formats a password or private key material: errors
//! name the field that is wrong, never its value, and `Debug` on a private key
//! shows only its public fingerprint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key as BoxKey, Nonce as BoxNonce, XSalsa20Poly1305};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use p256::pkcs8::{EncodePublicKey as _, ObjectIdentifier};
use serde::{Deserialize, Serialize};
use slipway_oci::Digest;
use zeroize::Zeroizing;

use crate::pem::{self, Pem};

/// PEM label cosign writes (since v2) for encrypted private keys.
pub const SIGSTORE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign versions wrote; still read.
pub const COSIGN_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The scrypt N slipway writes (cosign's default).
pub const DEFAULT_SCRYPT_N: u32 = 65_536;
/// The scrypt N values accepted on read (r = 8, p = 1 always): cosign's
/// legacy, standard and OWASP levels. Anything else is refused, as cosign
/// does, so a tampered file cannot make the reader burn memory and time.
pub const ACCEPTED_SCRYPT_N: [u32; 3] = [32_768, 65_536, 131_072];
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Why a key could not be read or written. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM file: {0}")]
    Pem(String),
    #[error(
        "PEM block `{0}` is not a key slipway reads (expected {SIGSTORE_KEY_LABEL}, PRIVATE KEY, EC PRIVATE KEY or PUBLIC KEY)"
    )]
    UnsupportedLabel(String),
    #[error("the encrypted key's JSON body is malformed: {0}")]
    Json(String),
    #[error("the encrypted key's field `{0}` is not valid base64")]
    Base64(&'static str),
    #[error("unsupported key derivation `{0}` (only scrypt is supported)")]
    UnsupportedKdf(String),
    #[error("unsupported cipher `{0}` (only nacl/secretbox is supported)")]
    UnsupportedCipher(String),
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p} (accepted: N = 32768, 65536 or 131072 with r = 8, p = 1)"
    )]
    UnsupportedScrypt { n: u64, r: u64, p: u64 },
    #[error("the secretbox nonce is {0} bytes, not 24")]
    NonceLength(usize),
    #[error(
        "cannot decrypt the private key: the password is wrong or the file's ciphertext was altered \
         (the authentication tag cannot tell these apart); check COSIGN_PASSWORD"
    )]
    Decrypt,
    #[error("the {0} is not valid DER")]
    Der(&'static str),
    #[error("not an ECDSA P-256 key: {0}")]
    NotP256(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFailure {
    /// The bytes are not an ASN.1 DER ECDSA signature (damaged).
    #[error("the signature is not a DER-encoded ECDSA signature")]
    Malformed,
    /// Well-formed, but not made by this key over these bytes.
    #[error("the signature does not verify with this public key")]
    Mismatch,
}

/// An ECDSA P-256 private key. Signatures are deterministic (RFC 6979), so
/// signing the same bytes twice gives the same signature, which is what makes
/// re-signing idempotent.
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key().fingerprint().to_string())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<SigningKey, KeyError> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
            // A random 256-bit string is a valid scalar except with
            // probability ~2^-32; draw again in that case.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                return Ok(SigningKey { key });
            }
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    /// ECDSA P-256 over SHA-256 of `message`, ASN.1 DER (what cosign stores,
    /// base64-encoded, and what DSSE carries).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// The cosign encrypted PEM with N = 65536, r = 8, p = 1.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String, KeyError> {
        self.to_encrypted_pem_with_n(password, DEFAULT_SCRYPT_N)
    }

    /// The cosign encrypted PEM with another accepted scrypt N (r = 8, p = 1).
    pub fn to_encrypted_pem_with_n(&self, password: &[u8], n: u32) -> Result<String, KeyError> {
        if !ACCEPTED_SCRYPT_N.contains(&n) {
            return Err(KeyError::UnsupportedScrypt {
                n: n.into(),
                r: SCRYPT_R.into(),
                p: SCRYPT_P.into(),
            });
        }
        let der = self
            .key
            .to_pkcs8_der()
            .map_err(|_| KeyError::Der("private key"))?;
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut salt).map_err(|e| KeyError::Random(e.to_string()))?;
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let box_key = derive_key(password, &salt, n)?;
        let ciphertext = XSalsa20Poly1305::new(BoxKey::from_slice(box_key.as_ref()))
            .encrypt(BoxNonce::from_slice(&nonce), der.as_bytes())
            .map_err(|_| KeyError::Decrypt)?;
        let body = EncryptedBody {
            kdf: KdfJson {
                name: "scrypt".into(),
                params: ScryptJson {
                    n: n.into(),
                    r: SCRYPT_R.into(),
                    p: SCRYPT_P.into(),
                },
                salt: B64.encode(salt),
            },
            cipher: CipherJson {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(&ciphertext),
        };
        let json = serde_json::to_vec(&body).map_err(|e| KeyError::Json(e.to_string()))?;
        Ok(pem::encode(SIGSTORE_KEY_LABEL, &json))
    }

    /// Read a private key PEM: cosign's encrypted form (with `password`), or a
    /// plain PKCS#8 or SEC1 key (the password is then not used).
    pub fn from_pem(text: &str, password: &[u8]) -> Result<SigningKey, KeyError> {
        let Pem { label, body } = pem::decode(text).map_err(KeyError::Pem)?;
        match label.as_str() {
            SIGSTORE_KEY_LABEL | COSIGN_KEY_LABEL => {
                let der = decrypt_body(&body, password)?;
                from_pkcs8(&der)
            }
            "PRIVATE KEY" => from_pkcs8(&body),
            "EC PRIVATE KEY" => from_sec1(&body),
            "PUBLIC KEY" => Err(KeyError::UnsupportedLabel(
                "PUBLIC KEY (a public key where a private key is needed)".into(),
            )),
            other => Err(KeyError::UnsupportedLabel(other.to_string())),
        }
    }

    /// Whether a private key PEM is encrypted, so a caller asks for a
    /// password only when one is needed.
    pub fn pem_is_encrypted(text: &str) -> bool {
        pem::decode(text)
            .is_ok_and(|p| p.label == SIGSTORE_KEY_LABEL || p.label == COSIGN_KEY_LABEL)
    }
}

/// An ECDSA P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: p256::ecdsa::VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PublicKey {
    /// Read a PKIX `PUBLIC KEY` PEM.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        let Pem { label, body } = pem::decode(text).map_err(KeyError::Pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::UnsupportedLabel(format!(
                "{label} (a public key file is needed here)"
            )));
        }
        PublicKey::from_der(&body)
    }

    /// Read a DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = p256::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|_| KeyError::Der("public key"))?;
        check_algorithm(
            spki.algorithm.oid,
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok()),
        )?;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(der)
            .map_err(|_| KeyError::NotP256("the point is not on the P-256 curve".into()))?;
        Ok(PublicKey { key })
    }

    /// PKIX DER (SubjectPublicKeyInfo, uncompressed point), as Go's
    /// `x509.MarshalPKIXPublicKey` writes it.
    pub fn to_der(&self) -> Vec<u8> {
        self.key
            .to_public_key_der()
            .expect("a P-256 public key always encodes")
            .into_vec()
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM, byte-identical to cosign's `.pub`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.to_der())
    }

    /// `sha256:<hex>` of the DER public key: a short name for logs and the
    /// diagnostic signer annotation.
    pub fn fingerprint(&self) -> Digest {
        Digest::of(&self.to_der())
    }

    /// Check an ASN.1 DER ECDSA P-256 / SHA-256 signature over `message`.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> Result<(), SignatureFailure> {
        let sig = p256::ecdsa::Signature::from_der(der_signature)
            .map_err(|_| SignatureFailure::Malformed)?;
        self.key
            .verify(message, &sig)
            .map_err(|_| SignatureFailure::Mismatch)
    }
}

#[derive(Serialize, Deserialize)]
struct EncryptedBody {
    kdf: KdfJson,
    cipher: CipherJson,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct KdfJson {
    name: String,
    params: ScryptJson,
    salt: String,
}

/// Field order and names as Go's securesystemslib writes them.
#[derive(Serialize, Deserialize)]
struct ScryptJson {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct CipherJson {
    name: String,
    nonce: String,
}

/// Open the JSON body of an encrypted key: check every parameter before
/// running scrypt, then decrypt.
fn decrypt_body(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    // Keep the names of the fields we check so a wrong `name` is reported as
    // such rather than as a JSON shape error.
    #[derive(Deserialize)]
    struct Loose {
        kdf: LooseKdf,
        cipher: CipherJson,
        ciphertext: String,
    }
    #[derive(Deserialize)]
    struct LooseKdf {
        name: String,
        params: serde_json::Value,
        salt: String,
    }
    let data: Loose = serde_json::from_slice(body).map_err(|e| KeyError::Json(e.to_string()))?;
    if data.kdf.name != "scrypt" {
        return Err(KeyError::UnsupportedKdf(data.kdf.name));
    }
    if data.cipher.name != "nacl/secretbox" {
        return Err(KeyError::UnsupportedCipher(data.cipher.name));
    }
    let params: ScryptJson = serde_json::from_value(data.kdf.params)
        .map_err(|e| KeyError::Json(format!("kdf.params: {e}")))?;
    let n = u32::try_from(params.n)
        .ok()
        .filter(|n| ACCEPTED_SCRYPT_N.contains(n));
    let Some(n) = n.filter(|_| params.r == u64::from(SCRYPT_R) && params.p == u64::from(SCRYPT_P))
    else {
        return Err(KeyError::UnsupportedScrypt {
            n: params.n,
            r: params.r,
            p: params.p,
        });
    };
    let salt = B64
        .decode(&data.kdf.salt)
        .map_err(|_| KeyError::Base64("kdf.salt"))?;
    let nonce = B64
        .decode(&data.cipher.nonce)
        .map_err(|_| KeyError::Base64("cipher.nonce"))?;
    if nonce.len() != NONCE_LEN {
        return Err(KeyError::NonceLength(nonce.len()));
    }
    let ciphertext = B64
        .decode(&data.ciphertext)
        .map_err(|_| KeyError::Base64("ciphertext"))?;
    let box_key = derive_key(password, &salt, n)?;
    XSalsa20Poly1305::new(BoxKey::from_slice(box_key.as_ref()))
        .decrypt(BoxNonce::from_slice(&nonce), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Decrypt)
}

fn derive_key(password: &[u8], salt: &[u8], n: u32) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = scrypt::Params::new(n.trailing_zeros() as u8, SCRYPT_R, SCRYPT_P)
        .expect("accepted scrypt parameters are valid");
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut()).expect("32 bytes is a valid length");
    Ok(key)
}

/// Refuse anything but id-ecPublicKey on prime256v1, naming what it is.
fn check_algorithm(oid: ObjectIdentifier, curve: Option<ObjectIdentifier>) -> Result<(), KeyError> {
    if oid != OID_EC_PUBLIC_KEY {
        return Err(KeyError::NotP256(format!(
            "the key's algorithm is {} ({oid})",
            algorithm_name(oid)
        )));
    }
    match curve {
        Some(c) if c == OID_P256 => Ok(()),
        Some(c) => Err(KeyError::NotP256(format!(
            "an EC key on curve {} ({c})",
            curve_name(c)
        ))),
        None => Err(KeyError::NotP256("an EC key without a named curve".into())),
    }
}

fn algorithm_name(oid: ObjectIdentifier) -> &'static str {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        _ => "not EC",
    }
}

fn curve_name(oid: ObjectIdentifier) -> &'static str {
    match oid.to_string().as_str() {
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        _ => "other than P-256",
    }
}

fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
    let info = p256::pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|_| KeyError::Der("PKCS#8 private key"))?;
    check_algorithm(
        info.algorithm.oid,
        info.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok()),
    )?;
    let key = p256::ecdsa::SigningKey::from_pkcs8_der(der)
        .map_err(|_| KeyError::Der("PKCS#8 P-256 private key"))?;
    Ok(SigningKey { key })
}

fn from_sec1(der: &[u8]) -> Result<SigningKey, KeyError> {
    let parsed =
        sec1::EcPrivateKey::try_from(der).map_err(|_| KeyError::Der("SEC1 private key"))?;
    // SEC1 keys name their curve in the optional parameters; without them
    // the key is taken as P-256, the only curve slipway uses.
    if let Some(curve) = parsed.parameters.and_then(|p| p.named_curve()) {
        check_algorithm(OID_EC_PUBLIC_KEY, Some(curve))?;
    }
    let key = p256::ecdsa::SigningKey::from_slice(parsed.private_key)
        .map_err(|_| KeyError::NotP256("the private scalar is out of range for P-256".into()))?;
    Ok(SigningKey { key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let key = SigningKey::generate().unwrap();
        let a = key.sign(b"payload");
        assert_eq!(a, key.sign(b"payload"));
        key.public_key().verify(b"payload", &a).unwrap();
        assert_eq!(
            key.public_key().verify(b"other", &a),
            Err(SignatureFailure::Mismatch)
        );
        assert_eq!(
            key.public_key().verify(b"payload", b"\x30\x02"),
            Err(SignatureFailure::Malformed)
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = SigningKey::generate().unwrap();
        let text = format!("{key:?}");
        assert!(text.contains("sha256:"), "{text}");
        let secret = key.key.to_bytes();
        let hex = base16ct::lower::encode_string(&secret);
        assert!(!text.contains(&hex));
    }
}
