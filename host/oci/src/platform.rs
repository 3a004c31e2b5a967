//! Platforms (`os/arch[/variant][:osversion]`) and ace-dt's matching rule (spec §5.3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An OCI platform; field order is Go's, for byte-identical JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Required OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// Why a `--platforms` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {}: expected os/arch[/variant][:osversion]", crate::quoted(.0.as_bytes()))]
pub struct PlatformError(pub String);

impl Platform {
    /// ace-dt's rule: OS and architecture equal; variant and OS version compared only when
    /// wanted; wanted OS features a subset of `got`'s.
    pub fn matches(&self, got: &Platform) -> bool {
        self.os == got.os
            && self.architecture == got.architecture
            && (self.variant.is_empty() || self.variant == got.variant)
            && (self.os_version.is_empty() || self.os_version == got.os_version)
            && self.os_features.iter().all(|f| got.os_features.contains(f))
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlatformError(s.to_owned());
        let (spec, os_version) = match s.split_once(':') {
            Some((p, v)) if !v.is_empty() => (p, v.to_owned()),
            Some(_) => return Err(err()),
            None => (s, String::new()),
        };
        let parts: Vec<&str> = spec.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(err());
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()).unwrap_or_default(),
            os_version,
            os_features: Vec::new(),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        if !self.os_version.is_empty() {
            write!(f, ":{}", self.os_version)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let want: Platform = "linux/arm64".parse().unwrap();
        let v8: Platform = "linux/arm64/v8".parse().unwrap();
        assert!(want.matches(&v8));
        assert!(!v8.matches(&want));
        assert!(!want.matches(&"linux/amd64".parse().unwrap()));
        let win: Platform = "windows/amd64:10.0.17763".parse().unwrap();
        assert_eq!(win.os_version, "10.0.17763");
        assert_eq!(win.to_string(), "windows/amd64:10.0.17763");
        for bad in ["linux", "linux/arm64/v8/x", "all", "linux//v8", "linux/amd64:"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }
}
