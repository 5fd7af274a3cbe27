//! The Ordine (tenant): its identifier and the slug that names it in URLs.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Path segments the platform uses itself: a tenant may not take them.
const RESERVED: &[&str] = &[
    "admin",
    "api",
    "assets",
    "health",
    "login",
    "logout",
    "piattaforma",
    "ready",
    "static",
    "ws",
];

/// The short name of an Ordine in URLs (`/roma/istanza`): 2 to 40 lowercase letters, digits and
/// inner hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error(
        "il nome breve deve avere da 2 a 40 caratteri: lettere minuscole, cifre e trattini interni"
    )]
    Format,
    #[error("il nome breve «{0}» è riservato")]
    Reserved(String),
}

impl Slug {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(2..=40).contains(&s.len()) || !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(SlugError::Format);
        }
        if RESERVED.contains(&s) {
            return Err(SlugError::Reserved(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("roma").is_ok());
        assert!(Slug::parse("reggio-emilia").is_ok());
        assert!(Slug::parse("a1").is_ok());
        for bad in ["", "a", "Roma", "-roma", "roma-", "ro ma", "roma/", "città"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::Format), "{bad}");
        }
        assert!(matches!(Slug::parse("assets"), Err(SlugError::Reserved(_))));
        assert_eq!(Slug::parse(&"a".repeat(41)), Err(SlugError::Format));
    }
}
