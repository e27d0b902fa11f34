//! The signer's side: a private key (PKCS#8, SEC1 `EC PRIVATE KEY` or PKCS#1
//! `RSA PRIVATE KEY` PEM, unencrypted, as notation reads them) with the
//! certificate chain it signs under.

use p256::pkcs8::DecodePrivateKey as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;

use crate::cert::{Algorithm, Certificate, PublicKey, validate_chain};
use crate::error::NotaryError;

enum Key {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
}

/// A key and its chain (leaf first, root last), checked to belong together.
pub struct SigningIdentity {
    key: Key,
    chain: Vec<Certificate>,
    algorithm: Algorithm,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningIdentity({}, {:?})",
            self.chain[0].subject, self.algorithm
        )
    }
}

impl SigningIdentity {
    /// Read `key_pem` and the PEM chain `chain_pem` (leaf first, then the
    /// intermediates, then the root), and check the chain and that the key
    /// is the leaf's.
    pub fn from_pem(key_pem: &str, chain_pem: &[u8]) -> Result<SigningIdentity, NotaryError> {
        let chain = Certificate::read_all(chain_pem)?;
        if chain.is_empty() {
            return Err(NotaryError::Certificate(
                "the certificate file holds no `-----BEGIN CERTIFICATE-----` block".into(),
            ));
        }
        validate_chain(&chain)?;
        let key = read_key(key_pem)?;
        let public = match &key {
            Key::P256(k) => PublicKey::P256(*k.verifying_key()),
            Key::P384(k) => PublicKey::P384(*k.verifying_key()),
            Key::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
        };
        if public != chain[0].key {
            return Err(NotaryError::Key(format!(
                "the private key ({}) is not the key of the signing certificate `{}` ({}); \
                 give the key that certificate was issued for, and the chain leaf first",
                public.describe(),
                chain[0].subject,
                chain[0].key.describe()
            )));
        }
        let algorithm = public.algorithm().ok_or_else(|| {
            NotaryError::Key(format!(
                "a {} key cannot sign Notary signatures; use RSA 2048/3072/4096 or EC P-256/P-384",
                public.describe()
            ))
        })?;
        Ok(SigningIdentity {
            key,
            chain,
            algorithm,
        })
    }

    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The JWS signature over `message`: ECDSA `r||s` (deterministic, RFC
    /// 6979) or RSASSA-PSS with a salt as long as the hash.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, NotaryError> {
        use p256::ecdsa::signature::Signer as _;
        use rsa::signature::SignatureEncoding as _;
        use sha2::{Sha256, Sha384, Sha512};
        let fail = |e: rsa::signature::Error| NotaryError::Key(format!("RSA signing failed: {e}"));
        Ok(match (&self.key, self.algorithm) {
            (Key::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_bytes().to_vec()
            }
            (Key::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(message);
                s.to_bytes().to_vec()
            }
            (Key::Rsa(k), Algorithm::Ps384) => rsa::pss::SigningKey::<Sha384>::new((**k).clone())
                .try_sign(message)
                .map_err(fail)?
                .to_vec(),
            (Key::Rsa(k), Algorithm::Ps512) => rsa::pss::SigningKey::<Sha512>::new((**k).clone())
                .try_sign(message)
                .map_err(fail)?
                .to_vec(),
            (Key::Rsa(k), _) => rsa::pss::SigningKey::<Sha256>::new((**k).clone())
                .try_sign(message)
                .map_err(fail)?
                .to_vec(),
        })
    }
}

fn read_key(pem: &str) -> Result<Key, NotaryError> {
    let label = pem
        .lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or_else(|| {
            NotaryError::Key("the key file has no `-----BEGIN ... PRIVATE KEY-----` block".into())
        })?;
    let damaged = |what: &str, e: &dyn std::fmt::Display| {
        NotaryError::Key(format!("the {what} does not parse: {e}"))
    };
    match label {
        "PRIVATE KEY" => {
            if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                return Ok(Key::P256(k));
            }
            if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                return Ok(Key::P384(k));
            }
            match rsa::PrivateKey::from_pkcs8_pem(pem) {
                Ok(k) => Ok(Key::Rsa(Box::new(k))),
                Err(_) => Err(NotaryError::Key(
                    "the PKCS#8 key is neither EC P-256, EC P-384 nor RSA (or it is damaged)".into(),
                )),
            }
        }
        "EC PRIVATE KEY" => {
            use p256::elliptic_curve::SecretKey;
            if let Ok(k) = SecretKey::<p256::NistP256>::from_sec1_pem(pem) {
                return Ok(Key::P256(k.into()));
            }
            match SecretKey::<p384::NistP384>::from_sec1_pem(pem) {
                Ok(k) => Ok(Key::P384(k.into())),
                Err(e) => Err(damaged("EC key (P-256 or P-384 expected)", &e)),
            }
        }
        "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_pem(pem)
            .map(|k| Key::Rsa(Box::new(k)))
            .map_err(|e| damaged("RSA key", &e)),
        "ENCRYPTED PRIVATE KEY" => Err(NotaryError::Key(
            "the key is encrypted; notation's key files are not, decrypt it with `openssl pkey -in KEY -out KEY.plain`".into(),
        )),
        other => Err(NotaryError::Key(format!(
            "a `{other}` PEM block is not a private key; give a PKCS#8, EC or RSA private key"
        ))),
    }
}
