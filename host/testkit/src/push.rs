//! Pushing and reading registry content with `curl`: an HTTP client independent of ferry's,
//! so fixtures and assertions do not depend on the code under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_oci::{Descriptor, Digest};

/// Talks to one registry over `curl`.
#[derive(Clone, Debug)]
pub struct Pusher {
    base: String,
    credentials: Option<(String, String)>,
    ca: Option<PathBuf>,
    /// Token realm and service, for registries with token auth.
    token: Option<(String, String)>,
    /// Client certificate and key, for mutual TLS.
    client_cert: Option<(PathBuf, PathBuf)>,
}

/// A response: status, headers (lowercased names), body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Pusher {
    pub fn new(base: String, credentials: Option<(String, String)>, ca: Option<PathBuf>) -> Pusher {
        Pusher { base, credentials, ca, token: None, client_cert: None }
    }

    /// Present this client certificate.
    pub fn with_client_cert(mut self, cert: PathBuf, key: PathBuf) -> Pusher {
        self.client_cert = Some((cert, key));
        self
    }

    /// Use bearer tokens from `realm` (Docker token auth) instead of basic auth.
    pub fn with_token_realm(mut self, realm: &str, service: &str) -> Pusher {
        self.token = Some((realm.to_owned(), service.to_owned()));
        self
    }

    /// A push+pull token for the repository in `url`'s path.
    fn bearer(&self, url: &str) -> Option<String> {
        let (realm, service) = self.token.as_ref()?;
        let path = url.split("/v2/").nth(1)?;
        let repo = ["/blobs/", "/manifests/", "/tags/"].iter().find_map(|m| path.split_once(m).map(|(r, _)| r.to_owned()))?;
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-G",
            realm,
            "--data-urlencode",
            &format!("service={service}"),
            "--data-urlencode",
            &format!("scope=repository:{repo}:pull,push"),
        ]);
        if let Some((u, p)) = &self.credentials {
            cmd.args(["-u", &format!("{u}:{p}")]);
        }
        let out = cmd.output().ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["token"].as_str().map(str::to_owned)
    }

    /// Makes a request; `body` is a file to upload.
    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Path>) -> Response {
        let dir = tempfile::tempdir().unwrap();
        let (out, hdr) = (dir.path().join("body"), dir.path().join("headers"));
        let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", self.base) };
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-o"]).arg(&out).arg("-D").arg(&hdr).args(["-w", "%{http_code}", "-X", method]);
        if method == "HEAD" {
            cmd.arg("-I");
        }
        if let Some(token) = self.bearer(&url) {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        } else if let Some((u, p)) = &self.credentials {
            cmd.args(["-u", &format!("{u}:{p}")]);
        }
        if let Some(ca) = &self.ca {
            cmd.arg("--cacert").arg(ca);
        }
        if let Some((cert, key)) = &self.client_cert {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        for (k, v) in headers {
            cmd.args(["-H", &format!("{k}: {v}")]);
        }
        if let Some(file) = body {
            cmd.arg("-T").arg(file);
        }
        cmd.arg(&url);
        let output = cmd.output().expect("running curl (apt-get install curl)");
        let status: u16 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(0);
        let headers = std::fs::read_to_string(&hdr)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())))
            .collect();
        Response { status, headers, body: std::fs::read(&out).unwrap_or_default() }
    }

    /// Status of a bodiless request.
    pub fn status(&self, method: &str, path: &str) -> u16 {
        self.request(method, path, &[], None).status
    }

    /// Uploads a blob from a file whose digest is known.
    pub fn push_blob_file(&self, repo: &str, file: &Path, digest: &Digest) {
        let start = self.request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], None);
        assert_eq!(start.status, 202, "starting upload to {repo}: {}", String::from_utf8_lossy(&start.body));
        let loc = start.header("location").expect("upload Location");
        let loc = if loc.starts_with("http") { loc.to_owned() } else { format!("{}{loc}", self.base) };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = self.request("PUT", &format!("{loc}{sep}digest={digest}"), &[("Content-Type", "application/octet-stream")], Some(file));
        assert_eq!(put.status, 201, "finishing upload of {digest} to {repo}: {}", String::from_utf8_lossy(&put.body));
    }

    /// Uploads a blob; returns its descriptor with `media_type`.
    pub fn push_blob(&self, repo: &str, media_type: &str, bytes: &[u8]) -> Descriptor {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blob");
        std::fs::write(&file, bytes).unwrap();
        let desc = Descriptor::of_bytes(media_type, bytes);
        self.push_blob_file(repo, &file, &desc.digest);
        desc
    }

    /// PUTs a manifest under a tag or digest; returns its descriptor.
    pub fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> Descriptor {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest");
        std::fs::write(&file, bytes).unwrap();
        let r = self.request("PUT", &format!("/v2/{repo}/manifests/{reference}"), &[("Content-Type", media_type)], Some(&file));
        assert_eq!(r.status, 201, "pushing manifest {repo}:{reference}: {}", String::from_utf8_lossy(&r.body));
        Descriptor::of_bytes(media_type, bytes)
    }

    /// The raw manifest and its media type, or `None` if absent.
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<(String, Vec<u8>)> {
        let accept = ferry_oci::media_type::MANIFEST_TYPES.join(", ");
        let r = self.request("GET", &format!("/v2/{repo}/manifests/{reference}"), &[("Accept", &accept)], None);
        match r.status {
            200 => Some((r.header("content-type").unwrap_or_default().to_owned(), r.body)),
            404 => None,
            s => panic!("GET manifest {repo}:{reference}: {s} {}", String::from_utf8_lossy(&r.body)),
        }
    }

    /// The gather index or any index as JSON.
    pub fn manifest_json(&self, repo: &str, reference: &str) -> serde_json::Value {
        let (_, bytes) = self.manifest(repo, reference).unwrap_or_else(|| panic!("{repo}:{reference} not found"));
        serde_json::from_slice(&bytes).unwrap()
    }

    pub fn has_manifest(&self, repo: &str, reference: &str) -> bool {
        self.manifest(repo, reference).is_some()
    }

    /// A blob's bytes.
    pub fn blob(&self, repo: &str, digest: &Digest) -> Vec<u8> {
        let r = self.request("GET", &format!("/v2/{repo}/blobs/{digest}"), &[], None);
        assert_eq!(r.status, 200, "GET blob {digest} from {repo}");
        r.body
    }

    pub fn has_blob(&self, repo: &str, digest: &Digest) -> bool {
        self.status("HEAD", &format!("/v2/{repo}/blobs/{digest}")) == 200
    }

    /// Tags, sorted (`[]` for an unknown repository).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let r = self.request("GET", &format!("/v2/{repo}/tags/list"), &[], None);
        if r.status == 404 {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let mut tags: Vec<String> = v["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
        tags.sort();
        tags
    }
}
