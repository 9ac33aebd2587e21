//! TLS to the server: which certificates to trust ([`TlsOptions`]) and the
//! connector built from them.

use std::sync::Arc;

use crate::error::ClientError;

/// The host part of a `host:port` address (brackets of an IPv6 address
/// removed): the name a TLS certificate is checked against.
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// How to check the server's certificate.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The name the certificate must be for (a DNS name or an IP
    /// address).
    pub server_name: String,
    /// A PEM file of the certificate authorities to trust: the server's
    /// own certificate for a self-signed set-up, or the system's bundle
    /// (for example `/etc/ssl/certs/ca-certificates.crt`).
    pub ca_file: std::path::PathBuf,
}

/// A TLS connector trusting the authorities of `tls.ca_file`.
pub(crate) fn connector(tls: &TlsOptions) -> Result<tokio_rustls::TlsConnector, ClientError> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&tls.ca_file)
        .map_err(|err| ClientError::Tls(format!("CA file {}: {err}", tls.ca_file.display())))?;
    for cert in certs {
        let cert = cert.map_err(|err| ClientError::Tls(format!("CA file: {err}")))?;
        roots.add(cert).map_err(|err| ClientError::Tls(format!("CA file: {err}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Tls(format!("no certificate in {}", tls.ca_file.display())));
    }
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Speaks TLS over `socket`, checking the certificate as `tls` says.
///
/// # Errors
/// [`ClientError::Tls`] for unusable options, [`ClientError::Io`] for a
/// failed handshake.
pub(crate) async fn connect(
    tls: &TlsOptions,
    socket: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ClientError> {
    let connector = connector(tls)?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(tls.server_name.clone())
        .map_err(|err| ClientError::Tls(format!("server name: {err}")))?;
    Ok(connector.connect(name, socket).await?)
}
