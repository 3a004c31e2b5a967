//! The commented sample printed by `ferry config --sample`.

/// A commented sample configuration. Lines starting `## ` explain; lines starting `# ` are
/// settings to uncomment, and with all of them uncommented it is a valid file.
pub fn sample() -> &'static str {
    SAMPLE
}

const SAMPLE: &str = r#"## ferry configuration (ace-dt's schema: an ace-dt config file works unchanged).
## Found as: --config PATH, else $FERRY_CONFIG, else ./ferry-config.yaml,
## $XDG_CONFIG_HOME/ferry/config.yaml, /etc/ferry/config.yaml (the first readable one wins).
apiVersion: config.dt.act3-ace.io/v1alpha1
kind: Configuration

## Cache directory (default $XDG_CACHE_HOME/ferry).
# cachePath: /var/cache/ferry

## Concurrent registry requests per host, and sources copied at once (default 5).
# concurrentHTTP: 5

## Registries: where to connect, and how to rewrite repository paths.
# registryConfig:
#   registries:
#     index.docker.io:
#       endpoints:
#         - https://mirror.example.com     # only the first endpoint is used
#       rewritePull:                       # tried in file order; the first match applies
#         "^rancher/(.*)": "ace/dt/rancher-images/${1}"
#         "^ubuntu/(.*)": "ace/dt/ubuntu-images/${1}"
#     localhost:5000:
#       endpoints:
#         - http://localhost:5000          # http:// means plain HTTP
#   endpointConfig:
#     https://mirror.example.com:
#       supportsReferrers: tag             # tag | api | auto (default: auto, probe the registry)
#       tls:
#         insecureSkipVerify: false        # true skips certificate checks: avoid

## Plugins (ferry's own section). With requireSigned, ferry loads no site component unless it
## comes from an installed bundle signed by one of trustedKeys (PEM public keys; relative paths
## are resolved against this file's directory). The built-in components are always trusted.
## Set in /etc/ferry/config.yaml, requireSigned and its trustedKeys hold whatever config is chosen.
# plugins:
#   requireSigned: true
#   trustedKeys:
#     - /etc/ferry/keys/officer.pub
#   store: /var/lib/ferry/plugins      # installed bundles (default $XDG_DATA_HOME/ferry/plugins)

## ferry's own: which deliveries deserialize, batch-deserialize and unarchive load. With
## requireSigned, an archive without a good signature (serialize --sign) by one of trustedKeys
## is refused before anything is written; held machine-wide by /etc/ferry/config.yaml too.
# deliveries:
#   requireSigned: true
#   trustedKeys:
#     - /etc/ferry/keys/low-side.pub

## ferry's own: which artifacts scatter, clone and unarchive place: with requireSigned, only
## those with a cosign signature by one of trustedKeys (--require-signed-images adds keys).
# images:
#   requireSigned: true
#   trustedKeys:
#     - /etc/ferry/keys/vendor.pub

## ferry's own, on the low side: the delivery catalog that records every archive written and
## what the high side's receipts confirmed (`ferry catalog`, `serialize --catalog`). A SQLite
## file by default ($XDG_DATA_HOME/ferry/catalog.db); a PostgreSQL URL for a catalog shared
## by several hosts. Set path or url, not both.
# catalog:
#   path: /var/lib/ferry/catalog.db
#   url: postgres://ferry@db.example/ferry

## ferry's own: which receipts `ferry catalog import` accepts. Without requireSigned, a
## signed receipt (FILE.sig) is still checked against trustedKeys when they are set.
# receipts:
#   requireSigned: true
#   trustedKeys:
#     - /etc/ferry/keys/high-side.pub

## Credentials for a registry come from the first of: registryAuthFile (below), Docker's
## $DOCKER_CONFIG/config.json or ~/.docker/config.json (with credHelpers and credsStore),
## $REGISTRY_AUTH_FILE, podman's $XDG_RUNTIME_DIR/containers/auth.json and
## ~/.config/containers/auth.json. `ferry login` writes registryAuthFile when set, else
## Docker's config.json (or its credential helper).
# registryAuthFile: ~/.docker/config.json

## Plain HTTP: an http:// endpoint above, or --plain-http HOST on the command line. Loopback
## registries (localhost, 127.0.0.0/8, ::1) that answer TLS in plain HTTP need neither.
## CA certificates and client certificates for HOST come from /etc/containerd/certs.d/HOST,
## /etc/docker/certs.d/HOST or ~/.docker/certs.d/HOST (ca.pem or *.crt; cert.pem + key.pem).
"#;
