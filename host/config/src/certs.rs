//! Per-host TLS material from `certs.d` directories: CA certificates (`ca.pem`, `*.crt`) and a
//! client certificate (`cert.pem` + `key.pem`, or `*.cert` + `*.key`).

use std::path::{Path, PathBuf};

/// Directories searched, in order, for `<dir>/<host>`.
#[derive(Clone, Debug)]
pub struct CertDirs(pub Vec<PathBuf>);

/// TLS material found for a host.
#[derive(Clone, Debug, Default)]
pub struct TlsMaterial {
    /// The directory it came from.
    pub dir: Option<PathBuf>,
    /// PEM files of extra CA certificates.
    pub ca_pems: Vec<Vec<u8>>,
    /// Client certificate chain (PEM).
    pub client_cert_pem: Option<Vec<u8>>,
    /// Client private key (PEM).
    pub client_key_pem: Option<Vec<u8>>,
}

/// Certificate files could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct CertError {
    /// The file or directory.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl CertDirs {
    /// `/etc/containerd/certs.d`, `/etc/docker/certs.d`, `$HOME/.docker/certs.d`.
    pub fn default_dirs() -> CertDirs {
        let mut dirs = vec![PathBuf::from("/etc/containerd/certs.d"), PathBuf::from("/etc/docker/certs.d")];
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".docker").join("certs.d"));
        }
        CertDirs(dirs)
    }

    /// The material in the first existing `<dir>/<host>`; empty when there is none.
    pub fn material(&self, host: &str) -> Result<TlsMaterial, CertError> {
        let Some(dir) = self.0.iter().map(|d| d.join(host)).find(|d| d.is_dir()) else {
            return Ok(TlsMaterial::default());
        };
        let mut names: Vec<PathBuf> = fs_err::read_dir(&dir)
            .map_err(|e| CertError { path: dir.clone(), message: e.to_string() })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        let mut material = TlsMaterial { dir: Some(dir.clone()), ..TlsMaterial::default() };
        for p in &names {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "ca.pem" || name.ends_with(".crt") {
                material.ca_pems.push(read_pem(p)?);
            }
        }
        let pair = if dir.join("cert.pem").exists() || dir.join("key.pem").exists() {
            Some((dir.join("cert.pem"), dir.join("key.pem")))
        } else {
            names.iter().find(|p| p.extension().is_some_and(|e| e == "cert")).map(|c| (c.clone(), c.with_extension("key")))
        };
        if let Some((cert, key)) = pair {
            for half in [&cert, &key] {
                if !half.exists() {
                    return Err(CertError { path: half.clone(), message: "missing half of the client certificate pair".to_owned() });
                }
            }
            material.client_cert_pem = Some(read_pem(&cert)?);
            material.client_key_pem = Some(read_pem(&key)?);
        }
        Ok(material)
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, CertError> {
    let bytes = fs_err::read(path).map_err(|e| CertError { path: path.to_owned(), message: e.to_string() })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(CertError { path: path.to_owned(), message: "failed to find any PEM data".to_owned() });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn collects_material_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let host = "127.0.0.1:5000";
        std::fs::create_dir_all(b.path().join(host)).unwrap();
        std::fs::write(b.path().join(host).join("ca.pem"), PEM).unwrap();
        std::fs::write(b.path().join(host).join("extra.crt"), PEM).unwrap();
        let dirs = CertDirs(vec![a.path().to_owned(), b.path().to_owned()]);
        let m = dirs.material(host).unwrap();
        assert_eq!((m.ca_pems.len(), m.client_cert_pem.is_none()), (2, true));
        assert!(dirs.material("other:1").unwrap().dir.is_none());

        std::fs::write(b.path().join(host).join("cert.pem"), PEM).unwrap();
        assert!(dirs.material(host).unwrap_err().to_string().contains("key.pem"));
        std::fs::write(b.path().join(host).join("key.pem"), "").unwrap();
        assert!(dirs.material(host).unwrap_err().to_string().contains("PEM data"));
    }
}
