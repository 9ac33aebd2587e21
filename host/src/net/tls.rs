//! TLS for the TCP port (rustls): the acceptor, and its reloading when the
//! certificate is renewed.
//!
//! The certificate and key are read at start (a bad pair stops the server
//! with a clear message) and again on SIGHUP and whenever either file
//! changes (checked every [`CHECK_EVERY`], which also catches a renewal
//! tool that swaps a symlink). A pair that fails to load is logged and the
//! one in use stays: a botched renewal never takes the port down.
//! Connections already open keep the certificate they were made with.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::TlsConfig;

/// How often the certificate and key files are checked for a change.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// The acceptor in use, replaced when the certificate is reloaded.
pub struct Tls {
    config: TlsConfig,
    acceptor: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the certificate and key `config` names.
    ///
    /// # Errors
    /// When a file cannot be read, holds no certificate or key, or the key
    /// does not suit the certificate.
    pub fn load(config: &TlsConfig) -> anyhow::Result<Arc<Tls>> {
        let acceptor = acceptor(config)?;
        Ok(Arc::new(Tls { config: config.clone(), acceptor: RwLock::new(acceptor) }))
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the certificate and key again; on failure, logs why and keeps
    /// the ones in use.
    pub fn reload(&self, why: &str) {
        match acceptor(&self.config) {
            Ok(acceptor) => {
                *self.acceptor.write().unwrap_or_else(|p| p.into_inner()) = acceptor;
                info!(cert = %self.config.cert_file.display(), "TLS certificate reloaded ({why})");
            }
            Err(err) => error!(
                cert = %self.config.cert_file.display(),
                "TLS certificate not reloaded ({why}), the previous one stays: {err:#}"
            ),
        }
    }

    /// Reloads on SIGHUP and when either file changes, until `shutdown`.
    pub async fn watch(self: Arc<Tls>, shutdown: CancellationToken) {
        let mut hangups =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(hangups) => Some(hangups),
                Err(err) => {
                    error!(%err, "cannot listen for SIGHUP; TLS reloads on file change only");
                    None
                }
            };
        let mut seen = self.stamps();
        let mut checks = tokio::time::interval(CHECK_EVERY);
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let hangup = async {
                match &mut hangups {
                    Some(hangups) => hangups.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = hangup => {
                    seen = self.stamps();
                    self.reload("SIGHUP");
                }
                _ = checks.tick() => {
                    let now = self.stamps();
                    if now != seen {
                        seen = now;
                        self.reload("the files changed");
                    }
                }
            }
        }
    }

    /// What identifies the files' current versions.
    fn stamps(&self) -> [Option<(SystemTime, u64)>; 2] {
        [stamp(&self.config.cert_file), stamp(&self.config.key_file)]
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn acceptor(config: &TlsConfig) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(&config.cert_file)
        .with_context(|| format!("tls.certFile: cannot read {}", config.cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("tls.certFile: {} is not PEM", config.cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("tls.certFile: {} holds no certificate", config.cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .with_context(|| format!("tls.keyFile: no private key in {}", config.key_file.display()))?;
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("tls: the key does not suit the certificate")?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
