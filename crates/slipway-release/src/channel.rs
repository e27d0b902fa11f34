//! Channel names and the tags that hold them.
//!
//! A channel name is one or more components matching `[a-z0-9]+([._-][a-z0-9]+)*`
//! joined by `/` (`stable`, `fleet-eu/stable`). Tags cannot hold `/`, so the
//! channel's tag joins the components with `--`; that is unambiguous because
//! a component never contains two separators in a row.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The longest channel tag: the log head tag (`_slipway-audit--` + it)
/// must fit in the 128 characters the distribution spec allows a tag.
const MAX_TAG: usize = 128 - "_slipway-audit--".len();

/// A validated channel name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelName {
    components: Vec<String>,
}

impl ChannelName {
    /// Parse and validate `s`, e.g. `stable` or `fleet-eu/stable`.
    pub fn parse(s: &str) -> Result<ChannelName, Error> {
        let bad = |why: String| {
            Error::Input(format!(
                "`{s}` is not a channel name: {why}; a channel is lower-case components \
                 [a-z0-9]+([._-][a-z0-9]+)* joined by `/`, e.g. `stable` or `fleet-eu/stable`"
            ))
        };
        if s.is_empty() {
            return Err(bad("it is empty".into()));
        }
        let mut components = Vec::new();
        for c in s.split('/') {
            if !valid_component(c) {
                return Err(bad(if c.is_empty() {
                    "it has an empty component".into()
                } else {
                    format!("the component `{c}` is not allowed")
                }));
            }
            components.push(c.to_string());
        }
        let name = ChannelName { components };
        if name.tag().len() > MAX_TAG {
            return Err(bad(format!(
                "its tag would be longer than {MAX_TAG} characters"
            )));
        }
        Ok(name)
    }

    /// The tag that holds the channel: the components joined by `--`.
    pub fn tag(&self) -> String {
        self.components.join("--")
    }

    /// The channel back from its tag, if `tag` is one slipway could have written.
    pub fn from_tag(tag: &str) -> Option<ChannelName> {
        ChannelName::parse(&tag.split("--").collect::<Vec<_>>().join("/")).ok()
    }

    /// The components, outermost first.
    pub fn components(&self) -> &[String] {
        &self.components
    }
}

/// `[a-z0-9]+([._-][a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut prev_sep = false;
    for &ch in b {
        if is_alnum(ch) {
            prev_sep = false;
        } else if b"._-".contains(&ch) {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

impl FromStr for ChannelName {
    type Err = Error;
    fn from_str(s: &str) -> Result<ChannelName, Error> {
        ChannelName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags() {
        assert_eq!(ChannelName::parse("stable").unwrap().tag(), "stable");
        assert_eq!(
            ChannelName::parse("fleet-eu/stable").unwrap().tag(),
            "fleet-eu--stable"
        );
        assert_eq!(
            ChannelName::parse("a.b_c/d-1/e").unwrap().tag(),
            "a.b_c--d-1--e"
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "", "/", "a/", "/a", "a//b", "Stable", "a--b", "-a", "a-", "a..b", "a_-b", "a b",
            "a:b", "é",
        ] {
            let e = ChannelName::parse(bad).unwrap_err().to_string();
            assert!(e.contains("not a channel name"), "{bad}: {e}");
        }
        let long = ["abcdefghij"; 12].join("/");
        assert!(
            ChannelName::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("112")
        );
    }

    proptest! {
        #[test]
        fn tag_round_trips(parts in proptest::collection::vec("[a-z0-9]{1,4}([._-][a-z0-9]{1,3}){0,2}", 1..4)) {
            let name = ChannelName::parse(&parts.join("/")).unwrap();
            let tag = name.tag();
            prop_assert!(tag.len() <= 112);
            prop_assert!(tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            prop_assert_eq!(ChannelName::from_tag(&tag), Some(name.clone()));
            prop_assert_eq!(name.to_string(), parts.join("/"));
        }
    }
}
