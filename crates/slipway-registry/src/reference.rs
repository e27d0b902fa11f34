//! Where an image is: `host[:port]/repo[:tag|@digest]` in a registry, or an
//! OCI layout, OCI archive or docker-archive tar on disk.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use slipway_oci::Digest;

use crate::error::RegistryError;

/// An image in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `host[:port]` as written (after Docker Hub's short names are expanded).
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

const DOCKER_HUB: &str = "docker.io";

impl RemoteRef {
    /// The host to talk to: Docker Hub's API lives on another name than its images.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// What to ask the manifests endpoint for: the digest if pinned, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The repository with its registry, as cosign names an image in a signature.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    pub fn with_tag(&self, tag: &str) -> RemoteRef {
        RemoteRef {
            tag: Some(tag.into()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether `tag` is a valid tag (distribution's grammar).
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !tag.starts_with(['.', '-'])
}

fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.len() <= 255
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part.as_bytes()[0].is_ascii_alphanumeric()
                && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
        })
}

impl FromStr for RemoteRef {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<RemoteRef, RegistryError> {
        let bad = |why: &str| {
            RegistryError::Input(format!(
                "`{s}` is not an image reference: {why}; write host[:port]/repository[:tag|@sha256:…], \
                 e.g. registry.example.com/team/svc:1.2"
            ))
        };
        let s2 = s.strip_prefix("docker://").unwrap_or(s);
        let (rest, digest) = match s2.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(Digest::parse(d).ok_or_else(|| bad("the digest must be sha256:<64 hex>"))?),
            ),
            None => (s2, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a port.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad("a tag is up to 128 letters, digits, '.', '_' or '-'"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((host, repo))
                if host.contains(['.', ':']) || host == "localhost" || host.starts_with('[') =>
            {
                (host.to_string(), repo.to_string())
            }
            // Docker's short names: `alpine` is docker.io/library/alpine.
            Some(_) => (DOCKER_HUB.to_string(), name.to_string()),
            None => (DOCKER_HUB.to_string(), format!("library/{name}")),
        };
        if !valid_repository(&repository) {
            return Err(bad(
                "repository parts are lowercase letters, digits and '.', '_', '-' between '/'",
            ));
        }
        Ok(RemoteRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// Any place an image can be read from or written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Remote(RemoteRef),
    /// `oci:DIR[:tag]`
    Oci {
        dir: PathBuf,
        tag: Option<String>,
    },
    /// `oci-archive:FILE[:tag]`
    OciArchive {
        file: PathBuf,
        tag: Option<String>,
    },
    /// `docker-archive:FILE` (a destination only)
    DockerArchive {
        file: PathBuf,
    },
}

/// Split `PATH[:tag]`: a ':' followed by a valid tag and no '/' ends the path.
fn path_and_tag(s: &str) -> (PathBuf, Option<String>) {
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') && valid_tag(&s[i + 1..]) => {
            (PathBuf::from(&s[..i]), Some(s[i + 1..].to_string()))
        }
        _ => (PathBuf::from(s), None),
    }
}

impl FromStr for Location {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Location, RegistryError> {
        let nonempty = |p: &str, kind: &str| {
            if p.is_empty() || p.starts_with(':') {
                Err(RegistryError::Input(format!(
                    "`{s}`: {kind} needs a path, e.g. {kind}:./out/image"
                )))
            } else {
                Ok(())
            }
        };
        if let Some(rest) = s.strip_prefix("oci:") {
            nonempty(rest, "oci")?;
            let (dir, tag) = path_and_tag(rest);
            Ok(Location::Oci { dir, tag })
        } else if let Some(rest) = s.strip_prefix("oci-archive:") {
            nonempty(rest, "oci-archive")?;
            let (file, tag) = path_and_tag(rest);
            Ok(Location::OciArchive { file, tag })
        } else if let Some(rest) = s.strip_prefix("docker-archive:") {
            nonempty(rest, "docker-archive")?;
            Ok(Location::DockerArchive {
                file: PathBuf::from(rest),
            })
        } else {
            Ok(Location::Remote(s.parse()?))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tagged = |f: &mut fmt::Formatter<'_>, kind, p: &PathBuf, t: &Option<String>| {
            write!(f, "{kind}:{}", p.display())?;
            match t {
                Some(t) => write!(f, ":{t}"),
                None => Ok(()),
            }
        };
        match self {
            Location::Remote(r) => write!(f, "{r}"),
            Location::Oci { dir, tag } => tagged(f, "oci", dir, tag),
            Location::OciArchive { file, tag } => tagged(f, "oci-archive", file, tag),
            Location::DockerArchive { file } => write!(f, "docker-archive:{}", file.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RemoteRef {
        s.parse().unwrap()
    }

    #[test]
    fn registry_references() {
        let a = r("127.0.0.1:5000/team/svc:v1");
        assert_eq!(
            (a.registry.as_str(), a.repository.as_str()),
            ("127.0.0.1:5000", "team/svc")
        );
        assert_eq!(a.tag.as_deref(), Some("v1"));
        let b = r("localhost:5000/svc");
        assert_eq!(
            (b.registry.as_str(), b.tag.as_deref()),
            ("localhost:5000", None)
        );
        assert_eq!(b.reference(), "latest");
        let c = r("alpine");
        assert_eq!(
            (c.registry.as_str(), c.repository.as_str()),
            ("docker.io", "library/alpine")
        );
        let d = format!("ghcr.io/o/r@sha256:{}", "a".repeat(64));
        assert_eq!(r(&d).reference(), format!("sha256:{}", "a".repeat(64)));
        assert_eq!(r(&d).to_string(), d);
        for bad in [
            "",
            "Host.io/Repo",
            "h.io/repo:-x",
            "h.io/repo@sha256:12",
            "h.io//x",
        ] {
            assert!(bad.parse::<RemoteRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn locations() {
        assert_eq!(
            "oci:out/img:v2".parse::<Location>().unwrap(),
            Location::Oci {
                dir: "out/img".into(),
                tag: Some("v2".into())
            }
        );
        assert_eq!(
            "oci-archive:/tmp/a.tar".parse::<Location>().unwrap(),
            Location::OciArchive {
                file: "/tmp/a.tar".into(),
                tag: None
            }
        );
        assert!("oci:".parse::<Location>().is_err());
        assert!(matches!(
            "reg.io:443/a/b".parse::<Location>().unwrap(),
            Location::Remote(_)
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Location>();
        }
    }
}
