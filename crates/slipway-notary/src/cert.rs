//! X.509 certificates as the Notary Project uses them: the signing chain in a
//! JWS `x5c`, and roots in a trust store. Parsing is `x509-cert`'s; the rules
//! (key usage, EKU, basic constraints, allowed keys, issuance) follow the
//! Notary Project signature specification's certificate requirements.

use der::{Decode as _, DecodePem as _, Encode as _};
use p256::pkcs8::DecodePublicKey as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use crate::error::NotaryError;

/// A signing algorithm of the Notary Project, named as in JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl Algorithm {
    pub fn jws_name(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    pub fn from_jws_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            "ES512" => Algorithm::Es512,
            _ => return None,
        })
    }
}

/// A certificate's public key, as far as the Notary Project allows it.
#[derive(Debug, Clone)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::PublicKey),
    /// A key slipway cannot use, with what it is (`EC P-521`, `RSA 1024`, `Ed25519`…).
    Other(String),
}

impl PublicKey {
    /// The one algorithm the Notary Project pairs with this key (RSA
    /// 2048/3072/4096 → PS256/384/512, EC P-256/384/521 → ES256/384/512).
    pub fn algorithm(&self) -> Option<Algorithm> {
        match self {
            PublicKey::P256(_) => Some(Algorithm::Es256),
            PublicKey::P384(_) => Some(Algorithm::Es384),
            PublicKey::Rsa(k) => match rsa_bits(k) {
                2048 => Some(Algorithm::Ps256),
                3072 => Some(Algorithm::Ps384),
                4096 => Some(Algorithm::Ps512),
                _ => None,
            },
            PublicKey::Other(s) if s == "EC P-521" => Some(Algorithm::Es512),
            PublicKey::Other(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            PublicKey::P256(_) => "EC P-256".into(),
            PublicKey::P384(_) => "EC P-384".into(),
            PublicKey::Rsa(k) => format!("RSA {}", rsa_bits(k)),
            PublicKey::Other(s) => s.clone(),
        }
    }

    /// Check a JWS signature (`r||s` for ECDSA, RSASSA-PSS with any salt
    /// length for RSA) over `message` made with `alg`, in portable code.
    fn verify_jws_portable(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match (self, alg) {
            (PublicKey::P256(k), Algorithm::Es256) => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            (PublicKey::P384(k), Algorithm::Es384) => {
                p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            (PublicKey::Rsa(k), Algorithm::Ps256) => pss_verify::<Sha256>(k, message, sig),
            (PublicKey::Rsa(k), Algorithm::Ps384) => pss_verify::<Sha384>(k, message, sig),
            (PublicKey::Rsa(k), Algorithm::Ps512) => pss_verify::<Sha512>(k, message, sig),
            _ => false,
        }
    }

    /// Check a certificate signature (DER ECDSA, PKCS#1 v1.5 or PSS RSA)
    /// with the hash `hash`.
    fn verify_x509(&self, kind: CertSig, message: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let (CertSig::Ecdsa(h) | CertSig::RsaPkcs1(h) | CertSig::RsaPss(h)) = kind;
        let prehash = h.digest(message);
        match (self, kind) {
            (PublicKey::P256(k), CertSig::Ecdsa(_)) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&prehash, &s).is_ok()),
            (PublicKey::P384(k), CertSig::Ecdsa(_)) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&prehash, &s).is_ok()),
            (PublicKey::Rsa(k), CertSig::RsaPkcs1(h)) => {
                let scheme = match h {
                    Hash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    Hash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    Hash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, &prehash, sig).is_ok()
            }
            (PublicKey::Rsa(k), CertSig::RsaPss(h)) => match h {
                Hash::Sha256 => pss_verify::<Sha256>(k, message, sig),
                Hash::Sha384 => pss_verify::<Sha384>(k, message, sig),
                Hash::Sha512 => pss_verify::<Sha512>(k, message, sig),
            },
            _ => false,
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PublicKey::P256(a), PublicKey::P256(b)) => a == b,
            (PublicKey::P384(a), PublicKey::P384(b)) => a == b,
            (PublicKey::Rsa(a), PublicKey::Rsa(b)) => a == b,
            _ => false,
        }
    }
}

fn pss_verify<D>(key: &rsa::PublicKey, message: &[u8], sig: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset + Clone,
{
    use rsa::signature::Verifier as _;
    let Ok(sig) = rsa::pss::Signature::try_from(sig) else {
        return false;
    };
    rsa::pss::VerifyingKey::<D>::new_with_auto_salt_len(key.clone())
        .verify(message, &sig)
        .is_ok()
}

pub(crate) fn rsa_bits(key: &rsa::PublicKey) -> u32 {
    use rsa::traits::PublicKeyParts as _;
    key.n().bit_width()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// How a certificate is signed by its issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertSig {
    Ecdsa(Hash),
    RsaPkcs1(Hash),
    RsaPss(Hash),
}

mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const P521: Oid = Oid::new_unwrap("1.3.132.0.35");
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const RSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const EKU_ANY: Oid = Oid::new_unwrap("2.5.29.37.0");
    pub const EKU_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
    pub const EKU_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
    pub const EKU_EMAIL: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
    pub const EKU_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const EKU_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
    pub const CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
    pub const AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
}

/// One parsed certificate with what the Notary rules look at.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    signature_kind: Result<CertSig, String>,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    /// `CN=…,O=…,ST=…,C=…` (most specific first, as Go prints names).
    pub subject: String,
    subject_attributes: Vec<Vec<(String, String)>>,
    pub not_before: i64,
    pub not_after: i64,
    pub key: PublicKey,
    /// The subjectPublicKey bits (EC point or PKCS#1 RSA key), for ring.
    key_bits: Vec<u8>,
    key_usage: Option<(bool, KeyUsage)>,
    ext_key_usage: Option<Vec<der::asn1::ObjectIdentifier>>,
    basic_constraints: Option<BasicConstraints>,
    /// Names a CRL or OCSP endpoint (which an offline verifier cannot ask).
    pub names_revocation_endpoint: bool,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parse one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, NotaryError> {
        let bad = |why: String| NotaryError::Certificate(why);
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| bad(format!("not a DER X.509 certificate: {e}")))?;
        let tbs = tbs_range(der).ok_or_else(|| bad("its DER structure is damaged".into()))?;
        let tbs_cert = cert.tbs_certificate();
        let subject_attributes: Vec<Vec<(String, String)>> = tbs_cert
            .subject()
            .iter_rdn()
            .map(|rdn| rdn.iter().map(attribute).collect())
            .collect();
        let subject = format_name(&subject_attributes);
        let validity = tbs_cert.validity();
        let ext = |e: der::Error| bad(format!("{subject}: a damaged extension: {e}"));
        let key_usage = tbs_cert.get_extension::<KeyUsage>().map_err(ext)?;
        let ext_key_usage = tbs_cert
            .get_extension::<ExtendedKeyUsage>()
            .map_err(ext)?
            .map(|(_, e)| e.0);
        let basic_constraints = tbs_cert
            .get_extension::<BasicConstraints>()
            .map_err(ext)?
            .map(|(_, b)| b);
        let names_revocation_endpoint = tbs_cert.extensions().is_some_and(|exts| {
            exts.iter().any(|e| {
                e.extn_id == oid::CRL_DISTRIBUTION_POINTS || e.extn_id == oid::AUTHORITY_INFO_ACCESS
            })
        });
        let spki_der = tbs_cert
            .subject_public_key_info()
            .to_der()
            .map_err(|e| bad(format!("{subject}: its public key: {e}")))?;
        let key = public_key(tbs_cert.subject_public_key_info(), &spki_der);
        let key_bits = tbs_cert
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            .to_vec();
        Ok(Certificate {
            der: der.to_vec(),
            tbs,
            signature: cert.signature().raw_bytes().to_vec(),
            signature_kind: signature_kind(cert.signature_algorithm()),
            raw_subject: tbs_cert.subject().to_der().unwrap_or_default(),
            raw_issuer: tbs_cert.issuer().to_der().unwrap_or_default(),
            subject,
            subject_attributes,
            not_before: validity.not_before.to_unix_duration().as_secs() as i64,
            not_after: validity.not_after.to_unix_duration().as_secs() as i64,
            key,
            key_bits,
            key_usage,
            ext_key_usage,
            basic_constraints,
            names_revocation_endpoint,
        })
    }

    /// Every certificate in a PEM file (one or more `CERTIFICATE` blocks) or
    /// a DER file.
    pub fn read_all(bytes: &[u8]) -> Result<Vec<Certificate>, NotaryError> {
        let text = std::str::from_utf8(bytes).ok();
        if let Some(text) = text.filter(|t| t.contains("-----BEGIN")) {
            let mut out = Vec::new();
            let mut rest = text;
            while let Some(start) = rest.find("-----BEGIN ") {
                let block = &rest[start..];
                let end_marker = block.find("-----END ").ok_or_else(|| {
                    NotaryError::Certificate("a PEM block has no -----END line".into())
                })?;
                let end = block[end_marker..]
                    .find('\n')
                    .map_or(block.len(), |n| end_marker + n + 1);
                let pem = &block[..end];
                if pem.starts_with("-----BEGIN CERTIFICATE-----") {
                    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                        NotaryError::Certificate(format!("a PEM certificate does not parse: {e}"))
                    })?;
                    let der = cert.to_der().map_err(|e| {
                        NotaryError::Certificate(format!("a PEM certificate does not encode: {e}"))
                    })?;
                    out.push(Certificate::from_der(&der)?);
                }
                rest = &block[end..];
            }
            return Ok(out);
        }
        Ok(vec![Certificate::from_der(bytes)?])
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Lower-case hex SHA-256 of the DER, as in the thumbprint annotation.
    pub fn thumbprint(&self) -> String {
        slipway_oci::Digest::of(&self.der).hex().to_string()
    }

    pub fn is_ca(&self) -> bool {
        self.basic_constraints.as_ref().is_some_and(|b| b.ca)
    }

    /// Whether `issuer` signed this certificate and is named as its issuer.
    pub fn is_issued_by(&self, issuer: &Certificate) -> Result<bool, String> {
        let kind = self.signature_kind.clone()?;
        if self.raw_issuer != issuer.raw_subject {
            // Not named as the issuer: no need for the (costly) signature check.
            return Ok(false);
        }
        let tbs = &self.der[self.tbs.clone()];
        use ring::signature as r;
        let fast: Option<&'static dyn r::VerificationAlgorithm> = match (&issuer.key, kind) {
            (PublicKey::P256(_), CertSig::Ecdsa(Hash::Sha256)) => Some(&r::ECDSA_P256_SHA256_ASN1),
            (PublicKey::P256(_), CertSig::Ecdsa(Hash::Sha384)) => Some(&r::ECDSA_P256_SHA384_ASN1),
            (PublicKey::P384(_), CertSig::Ecdsa(Hash::Sha256)) => Some(&r::ECDSA_P384_SHA256_ASN1),
            (PublicKey::P384(_), CertSig::Ecdsa(Hash::Sha384)) => Some(&r::ECDSA_P384_SHA384_ASN1),
            (PublicKey::Rsa(_), CertSig::RsaPkcs1(Hash::Sha256)) => {
                Some(&r::RSA_PKCS1_2048_8192_SHA256)
            }
            (PublicKey::Rsa(_), CertSig::RsaPkcs1(Hash::Sha384)) => {
                Some(&r::RSA_PKCS1_2048_8192_SHA384)
            }
            (PublicKey::Rsa(_), CertSig::RsaPkcs1(Hash::Sha512)) => {
                Some(&r::RSA_PKCS1_2048_8192_SHA512)
            }
            (PublicKey::Rsa(_), CertSig::RsaPss(Hash::Sha256)) => {
                Some(&r::RSA_PSS_2048_8192_SHA256)
            }
            (PublicKey::Rsa(_), CertSig::RsaPss(Hash::Sha384)) => {
                Some(&r::RSA_PSS_2048_8192_SHA384)
            }
            (PublicKey::Rsa(_), CertSig::RsaPss(Hash::Sha512)) => {
                Some(&r::RSA_PSS_2048_8192_SHA512)
            }
            _ => None,
        };
        Ok(verify_fast_then_portable(
            fast,
            &issuer.key,
            &issuer.key_bits,
            tbs,
            &self.signature,
            || issuer.key.verify_x509(kind, tbs, &self.signature),
        ))
    }

    /// Check a JWS signature made with `alg` by this certificate's key.
    pub fn verify_jws(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        use ring::signature as r;
        let fast: Option<&'static dyn r::VerificationAlgorithm> = match (&self.key, alg) {
            (PublicKey::P256(_), Algorithm::Es256) => Some(&r::ECDSA_P256_SHA256_FIXED),
            (PublicKey::P384(_), Algorithm::Es384) => Some(&r::ECDSA_P384_SHA384_FIXED),
            (PublicKey::Rsa(_), Algorithm::Ps256) => Some(&r::RSA_PSS_2048_8192_SHA256),
            (PublicKey::Rsa(_), Algorithm::Ps384) => Some(&r::RSA_PSS_2048_8192_SHA384),
            (PublicKey::Rsa(_), Algorithm::Ps512) => Some(&r::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        verify_fast_then_portable(fast, &self.key, &self.key_bits, message, sig, || {
            self.key.verify_jws_portable(alg, message, sig)
        })
    }

    pub fn is_self_signed(&self) -> Result<bool, String> {
        self.is_issued_by(self)
    }

    /// The subject as one `type → value` map, for trusted-identity matching.
    /// A type that appears twice, or a multi-valued RDN, cannot be matched
    /// (notation refuses them too).
    pub fn subject_map(&self) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for rdn in &self.subject_attributes {
            if rdn.len() > 1 {
                return Err(format!(
                    "the subject `{}` has a multi-valued RDN, which trusted identities cannot match",
                    self.subject
                ));
            }
            for (t, v) in rdn {
                if out.iter().any(|(k, _)| k == t) {
                    return Err(format!(
                        "the subject `{}` has {t} twice, which trusted identities cannot match",
                        self.subject
                    ));
                }
                out.push((t.clone(), v.clone()));
            }
        }
        Ok(out)
    }

    /// The rules for the signing (leaf) certificate.
    fn check_leaf(&self) -> Result<(), String> {
        let s = &self.subject;
        if self.basic_constraints.as_ref().is_some_and(|b| b.ca) {
            return Err(format!(
                "the signing certificate `{s}` is a CA (basicConstraints cA=true); sign with a leaf certificate"
            ));
        }
        let ku = self.key_usage_present()?;
        if !ku.digital_signature() {
            return Err(format!(
                "the signing certificate `{s}` lacks the digitalSignature key usage"
            ));
        }
        let mut extra = Vec::new();
        for (set, name) in [
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
            (ku.encipher_only(), "encipherOnly"),
            (ku.decipher_only(), "decipherOnly"),
        ] {
            if set {
                extra.push(name);
            }
        }
        if !extra.is_empty() {
            return Err(format!(
                "the signing certificate `{s}` may only have the digitalSignature key usage, but also has {}",
                extra.join(", ")
            ));
        }
        for eku in self.ext_key_usage.iter().flatten() {
            let name = match *eku {
                oid::EKU_ANY => "anyExtendedKeyUsage",
                oid::EKU_SERVER_AUTH => "serverAuth",
                oid::EKU_CLIENT_AUTH => "clientAuth",
                oid::EKU_EMAIL => "emailProtection",
                oid::EKU_TIME_STAMPING => "timeStamping",
                oid::EKU_OCSP_SIGNING => "OCSPSigning",
                _ => continue,
            };
            return Err(format!(
                "the signing certificate `{s}` has the extended key usage {name}; a code-signing certificate must not (codeSigning is the one to use)"
            ));
        }
        if self.key.algorithm().is_none() {
            return Err(format!(
                "the signing certificate `{s}` has a {} key; the Notary Project allows RSA 2048/3072/4096 and EC P-256/P-384/P-521",
                self.key.describe()
            ));
        }
        Ok(())
    }

    /// The rules for an intermediate or root at `depth` CAs above the leaf.
    fn check_ca(&self, below: usize) -> Result<(), String> {
        let s = &self.subject;
        let Some(bc) = self.basic_constraints.as_ref().filter(|b| b.ca) else {
            return Err(format!(
                "`{s}` issues a certificate but is not a CA (basicConstraints cA=true is missing)"
            ));
        };
        if let Some(len) = bc.path_len_constraint
            && usize::from(len) < below
        {
            return Err(format!(
                "`{s}` allows {len} CA certificate(s) below it (pathLenConstraint), the chain has {below}"
            ));
        }
        let ku = self.key_usage_present()?;
        if !ku.key_cert_sign() {
            return Err(format!("the CA `{s}` lacks the keyCertSign key usage"));
        }
        Ok(())
    }

    fn key_usage_present(&self) -> Result<KeyUsage, String> {
        match &self.key_usage {
            None => Err(format!(
                "`{}` has no key usage extension; it must have one, marked critical",
                self.subject
            )),
            Some((false, _)) => Err(format!(
                "`{}`: the key usage extension must be marked critical",
                self.subject
            )),
            Some((true, ku)) => Ok(*ku),
        }
    }
}

/// Verify with ring (assembly; several times faster than the portable
/// code) where it has the combination. Its "no" is final for ECDSA; for RSA
/// it only takes keys of 2048+ bits and PSS salts as long as the hash, so a
/// "no" there is asked again of the portable code.
fn verify_fast_then_portable(
    fast: Option<&'static dyn ring::signature::VerificationAlgorithm>,
    key: &PublicKey,
    key_bits: &[u8],
    message: &[u8],
    sig: &[u8],
    portable: impl FnOnce() -> bool,
) -> bool {
    match fast {
        Some(alg) => {
            ring::signature::UnparsedPublicKey::new(alg, key_bits)
                .verify(message, sig)
                .is_ok()
                || (matches!(key, PublicKey::Rsa(_)) && portable())
        }
        None => portable(),
    }
}

/// The byte range of the TBSCertificate inside a Certificate SEQUENCE.
fn tbs_range(der: &[u8]) -> Option<std::ops::Range<usize>> {
    let (outer_header, _) = tlv(der, 0)?;
    let (inner_header, inner_len) = tlv(der, outer_header)?;
    let end = outer_header
        .checked_add(inner_header)?
        .checked_add(inner_len)?;
    (end <= der.len()).then_some(outer_header..end)
}

/// (header length counted from `at`, content length) of the DER TLV at `at`.
fn tlv(der: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *der.get(at + 1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*der.get(at + 2 + i)?);
    }
    Some((2 + n, len))
}

fn signature_kind(alg: &spki::AlgorithmIdentifierOwned) -> Result<CertSig, String> {
    Ok(match alg.oid {
        oid::ECDSA_SHA256 => CertSig::Ecdsa(Hash::Sha256),
        oid::ECDSA_SHA384 => CertSig::Ecdsa(Hash::Sha384),
        oid::ECDSA_SHA512 => CertSig::Ecdsa(Hash::Sha512),
        oid::RSA_SHA256 => CertSig::RsaPkcs1(Hash::Sha256),
        oid::RSA_SHA384 => CertSig::RsaPkcs1(Hash::Sha384),
        oid::RSA_SHA512 => CertSig::RsaPkcs1(Hash::Sha512),
        oid::RSA_PSS => {
            let params = alg
                .parameters
                .as_ref()
                .and_then(|p| p.to_der().ok())
                .and_then(|p| rsa::pkcs1::RsaPssParams::<der::Any>::from_der(&p).ok())
                .ok_or("RSASSA-PSS without readable parameters")?;
            match params.hash.oid {
                oid::SHA256 => CertSig::RsaPss(Hash::Sha256),
                oid::SHA384 => CertSig::RsaPss(Hash::Sha384),
                oid::SHA512 => CertSig::RsaPss(Hash::Sha512),
                other => return Err(format!("RSASSA-PSS with the hash {other}")),
            }
        }
        other => {
            let name = match other.to_string().as_str() {
                "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => "SHA-1, which is not allowed",
                _ => "not supported",
            };
            return Err(format!("its signature algorithm {other} is {name}"));
        }
    })
}

fn public_key(spki: &spki::SubjectPublicKeyInfoOwned, der: &[u8]) -> PublicKey {
    match spki.algorithm.oid {
        oid::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            match curve {
                Some(oid::P256) => p256::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P256)
                    .unwrap_or_else(|_| PublicKey::Other("damaged EC P-256".into())),
                Some(oid::P384) => p384::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P384)
                    .unwrap_or_else(|_| PublicKey::Other("damaged EC P-384".into())),
                Some(oid::P521) => PublicKey::Other("EC P-521".into()),
                Some(c) => PublicKey::Other(format!("EC {c}")),
                None => PublicKey::Other("EC on an unnamed curve".into()),
            }
        }
        oid::RSA => rsa::PublicKey::from_public_key_der(der)
            .map(PublicKey::Rsa)
            .unwrap_or_else(|_| PublicKey::Other("damaged RSA".into())),
        other => PublicKey::Other(match other.to_string().as_str() {
            "1.3.101.112" => "Ed25519".into(),
            s => format!("algorithm {s}"),
        }),
    }
}

/// Go's short names for the attribute types it knows; others stay dotted.
fn attribute_type(oid: &der::asn1::ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "2.5.4.6" => "C".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.3" => "CN".into(),
        "2.5.4.5" => "SERIALNUMBER".into(),
        "2.5.4.9" => "STREET".into(),
        "2.5.4.17" => "POSTALCODE".into(),
        other => other.to_string(),
    }
}

fn attribute(atv: &x509_cert::attr::AttributeTypeAndValue) -> (String, String) {
    let t = attribute_type(&atv.oid);
    let encoded = atv.value.to_der().unwrap_or_default();
    let bytes = atv.value.value();
    let text = match encoded.first() {
        // UTF8String, PrintableString, IA5String, NumericString
        Some(0x0c | 0x13 | 0x16 | 0x12) => String::from_utf8(bytes.to_vec()).ok(),
        // TeletexString, read as Latin-1
        Some(0x14) => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        // BMPString
        Some(0x1e) if bytes.len().is_multiple_of(2) => String::from_utf16(
            &bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .ok(),
        _ => None,
    };
    let value = text.unwrap_or_else(|| {
        let mut s = String::from("#");
        for b in &encoded {
            s.push_str(&format!("{b:02x}"));
        }
        s
    });
    (t, value)
}

/// RFC 4514 text, most specific RDN first.
fn format_name(rdns: &[Vec<(String, String)>]) -> String {
    rdns.iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|(t, v)| format!("{t}={}", crate::dn::escape(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Check a signing chain (leaf first, root last) the way notation does
/// before it looks at any trust store: each certificate issued by the next,
/// the last self-signed and no other, leaf and CA rules, allowed key types.
/// A single self-signed leaf is a chain too.
pub fn validate_chain(chain: &[Certificate]) -> Result<(), NotaryError> {
    let bad = NotaryError::Chain;
    let Some(leaf) = chain.first() else {
        return Err(bad("the certificate chain is empty".into()));
    };
    if chain.len() == 1 {
        match leaf.is_self_signed() {
            Ok(true) => {}
            Ok(false) => {
                return Err(bad(format!(
                    "the chain has only `{}`, which is not self-signed; include the issuing CAs up to the root",
                    leaf.subject
                )));
            }
            Err(e) => return Err(bad(format!("`{}`: {e}", leaf.subject))),
        }
        return leaf.check_leaf().map_err(bad);
    }
    for (i, cert) in chain.iter().enumerate() {
        let last = i == chain.len() - 1;
        let self_signed = cert.is_self_signed();
        if last {
            match self_signed {
                Ok(true) => {}
                Ok(false) => {
                    return Err(bad(format!(
                        "the chain ends with `{}`, which is not a self-signed root; the chain must end with its root",
                        cert.subject
                    )));
                }
                Err(e) => return Err(bad(format!("`{}`: {e}", cert.subject))),
            }
        } else {
            if self_signed == Ok(true) {
                return Err(bad(format!(
                    "`{}` is self-signed but is not the last certificate of the chain",
                    cert.subject
                )));
            }
            let parent = &chain[i + 1];
            match cert.is_issued_by(parent) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(bad(format!(
                        "`{}` is not issued by `{}`, the next certificate in the chain; order the chain leaf first, root last",
                        cert.subject, parent.subject
                    )));
                }
                Err(e) => return Err(bad(format!("`{}`: {e}", cert.subject))),
            }
        }
        if i == 0 {
            cert.check_leaf().map_err(bad)?;
        } else {
            cert.check_ca(i - 1).map_err(bad)?;
        }
    }
    Ok(())
}
