//! A small X.509 PKI for tests (feature `test-ca`): a root CA and signing
//! certificates with chosen keys, subjects, validity and usages, as PEM
//! files the way notation and slipway read them.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm, date_time_ymd,
};

/// Which key a certificate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    /// RSA of this many bits; the key comes from `openssl genpkey`.
    Rsa(u32),
}

fn key(kind: KeyKind) -> KeyPair {
    let alg: &'static SignatureAlgorithm = match kind {
        KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyKind::Rsa(bits) => {
            let out = std::process::Command::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
                .arg(format!("rsa_keygen_bits:{bits}"))
                .output()
                .expect("openssl genpkey (Debian package openssl) must run");
            assert!(out.status.success(), "openssl genpkey failed");
            let pem = String::from_utf8(out.stdout).expect("PEM is text");
            return KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
                .expect("openssl's RSA key loads");
        }
    };
    KeyPair::generate_for(alg).expect("key generation")
}

/// A root CA.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The root certificate, PEM.
    pub cert_pem: String,
}

/// A signing certificate's description.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub key: KeyKind,
    /// `(type, value)` with types C, ST, L, O, OU, CN.
    pub subject: Vec<(&'static str, String)>,
    /// Validity as (year, year): from 1 January of the first to 1 January of the second.
    pub years: (i32, i32),
    pub key_usages: Vec<KeyUsagePurpose>,
    pub ext_key_usages: Vec<ExtendedKeyUsagePurpose>,
    pub is_ca: bool,
}

impl Leaf {
    /// A code-signing certificate valid 2020–2099 for `C=US, ST=WA, O=org, CN=cn`.
    pub fn new(org: &str, cn: &str) -> Leaf {
        Leaf {
            key: KeyKind::P256,
            subject: vec![
                ("C", "US".into()),
                ("ST", "WA".into()),
                ("L", "Seattle".into()),
                ("O", org.into()),
                ("CN", cn.into()),
            ],
            years: (2020, 2099),
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            ext_key_usages: vec![ExtendedKeyUsagePurpose::CodeSigning],
            is_ca: false,
        }
    }
}

/// A signing key and its chain (leaf, root), PEM.
pub struct Issued {
    pub key_pem: String,
    pub cert_pem: String,
    pub chain_pem: String,
}

fn dn(subject: &[(&str, String)]) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for (t, v) in subject {
        let t = match *t {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "CN" => DnType::CommonName,
            other => panic!("testca: unknown DN type {other}"),
        };
        dn.push(t, v.clone());
    }
    dn
}

impl Ca {
    /// A root CA named `CN=<name>, O=<name> Root, C=US`.
    pub fn new(name: &str, kind: KeyKind) -> Ca {
        let key = key(kind);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = dn(&[
            ("C", "US".into()),
            ("ST", "WA".into()),
            ("O", format!("{name} Root")),
            ("CN", name.into()),
        ]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
        let cert = params.self_signed(&key).expect("self-signed root");
        Ca {
            cert_pem: cert.pem(),
            params,
            key,
        }
    }

    /// Issue a signing certificate as `leaf` describes.
    pub fn issue(&self, leaf: &Leaf) -> Issued {
        let key = key(leaf.key);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = dn(&leaf.subject);
        params.is_ca = if leaf.is_ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        params.key_usages = leaf.key_usages.clone();
        params.extended_key_usages = leaf.ext_key_usages.clone();
        params.not_before = date_time_ymd(leaf.years.0, 1, 1);
        params.not_after = date_time_ymd(leaf.years.1, 1, 1);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("issued certificate");
        Issued {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
        }
    }
}
