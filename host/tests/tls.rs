//! TLS on the TCP port, with the real binary and certificates made at test
//! time: a client that trusts the CA gets through and is served, one that
//! does not is refused, a plain-TCP client is refused with a clear log
//! line, and a renewed certificate is picked up without a restart.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::json;
use support::ServerProcess;
use vampire_client::{Client, ClientError, ConnectOptions, CreateRoom, TlsOptions};

/// A certificate authority and a `localhost` certificate it signed, written
/// as PEM files into `folder`: `{name}-ca.pem`, and the server's pair.
struct Certificates {
    ca_file: PathBuf,
    cert_pem: String,
    key_pem: String,
}

fn issue(folder: &Path, name: &str) -> Certificates {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let ca_file = folder.join(format!("{name}-ca.pem"));
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Certificates { ca_file, cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

/// Writes the server's certificate and key where its config points.
fn install(certificates: &Certificates, cert_file: &Path, key_file: &Path) {
    std::fs::write(cert_file, &certificates.cert_pem).unwrap();
    std::fs::write(key_file, &certificates.key_pem).unwrap();
}

fn trusting(ca_file: &Path) -> ConnectOptions {
    ConnectOptions {
        tls: Some(TlsOptions { server_name: "localhost".to_owned(), ca_file: ca_file.to_owned() }),
        ..ConnectOptions::default()
    }
}

/// Connects to `server` trusting `certificates`' CA, and pings.
async fn served(server: &ServerProcess, certificates: &Certificates) {
    let client = Client::connect_with(server.addr, trusting(&certificates.ca_file)).await.unwrap();
    client.ping().await.unwrap();
}

/// A server on TLS with the first certificate installed.
fn tls_server(folder: &Path, certificates: &Certificates) -> ServerProcess {
    let (cert_file, key_file) = (folder.join("server.pem"), folder.join("server.key"));
    install(certificates, &cert_file, &key_file);
    ServerProcess::start(json!({
        "tls": { "certFile": cert_file, "keyFile": key_file },
        "limits": { "handshakeTimeoutSecs": 2 },
    }))
}

#[tokio::test]
async fn a_client_trusting_the_ca_is_served_over_tls() {
    let folder = support::temp_dir("tls");
    let first = issue(&folder, "first");
    let server = tls_server(&folder, &first);

    let alice = Client::connect_with(server.addr, trusting(&first.ca_file)).await.unwrap();
    let mut bob = Client::connect_with(server.addr, trusting(&first.ca_file)).await.unwrap();
    let room = alice.create_room(CreateRoom::default()).await.unwrap().id;
    alice.join(&room, None).await.unwrap();
    bob.join(&room, None).await.unwrap();
    alice.send_message(&room, vampire_client::Value::from("over tls")).await.unwrap();
    loop {
        match bob.next_event_within(Duration::from_secs(5)).await {
            Some(vampire_client::Incoming::Event(vampire_client::Event::RoomMessage {
                data,
                ..
            })) => {
                assert_eq!(data.to_value(), vampire_client::Value::from("over tls"));
                break;
            }
            Some(_) => continue,
            None => panic!("the message never came over TLS"),
        }
    }

    // A client that trusts another CA refuses the server's certificate.
    let stranger = issue(&folder, "stranger");
    match Client::connect_with(server.addr, trusting(&stranger.ca_file)).await {
        Err(ClientError::Io(err)) => assert!(err.to_string().contains("certificate"), "{err}"),
        Err(other) => panic!("expected a certificate error, got {other}"),
        Ok(_) => panic!("a certificate from an untrusted CA was accepted"),
    }
    alice.ping().await.unwrap();
}

#[tokio::test]
async fn a_plain_tcp_client_is_refused_with_a_clear_log_line() {
    let folder = support::temp_dir("tls");
    let first = issue(&folder, "first");
    let server = tls_server(&folder, &first);

    // A plain client that sends a frame straight away.
    let mut plain = std::net::TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(&[0, 0, 0, 5, 0x81, 0xa2, b'o', b'p', 0xc0]).unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest);
    assert!(!rest.starts_with(&[0, 0]), "the TLS port answered in plain frames: {rest:?}");
    server.wait_for_log("TLS handshake failed (a client speaking plain TCP to the TLS port?)");

    // A plain client that waits for a welcome: the handshake times out and
    // the connection closes, with its own line.
    let started = Instant::now();
    let refused = Client::connect(server.addr).await;
    assert!(refused.is_err(), "a plain client was served on the TLS port");
    assert!(started.elapsed() < Duration::from_secs(9), "refused only by the client's own timeout");
    server.wait_for_log("TLS handshake timed out");

    // The port still serves TLS clients.
    served(&server, &first).await;
}

#[tokio::test]
async fn a_renewed_certificate_is_used_without_a_restart() {
    let folder = support::temp_dir("tls");
    let first = issue(&folder, "first");
    let server = tls_server(&folder, &first);
    let kept = Client::connect_with(server.addr, trusting(&first.ca_file)).await.unwrap();
    // A request now, so the connection is past the handshake timeout (2 s)
    // before the blocking waits below, during which this single-threaded
    // test runs no client task (its heartbeat included).
    kept.ping().await.unwrap();

    // A certificate from another CA replaces the first; the file watch
    // picks it up.
    let second = issue(&folder, "second");
    install(&second, &folder.join("server.pem"), &folder.join("server.key"));
    server.wait_for_log("TLS certificate reloaded (the files changed)");
    served(&server, &second).await;
    assert!(Client::connect_with(server.addr, trusting(&first.ca_file)).await.is_err());
    // The connection made with the first certificate goes on.
    kept.ping().await.unwrap();

    // A broken renewal is logged and the certificate in use stays.
    std::fs::write(folder.join("server.pem"), "not a certificate").unwrap();
    server.wait_for_log("holds no certificate");
    served(&server, &second).await;

    // SIGHUP reloads too.
    let third = issue(&folder, "third");
    install(&third, &folder.join("server.pem"), &folder.join("server.key"));
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    server.wait_for_log("TLS certificate reloaded (SIGHUP)");
    served(&server, &third).await;
}

#[test]
fn a_missing_certificate_stops_the_server_with_a_clear_message() {
    let folder = support::temp_dir("tls");
    let stderr = support::refused_start(json!({
        "tls": { "certFile": folder.join("absent.pem"), "keyFile": folder.join("absent.key") },
    }));
    assert!(stderr.contains("tls.certFile"), "{stderr}");
}

/// Issue 17, item 3: at `maxConnections`, a TLS client is told
/// `server_busy` inside TLS, not in plaintext it cannot read.
#[tokio::test]
async fn item_03_a_tls_client_past_the_connection_limit_reads_server_busy() {
    let folder = support::temp_dir("tls-busy");
    let first = issue(&folder, "first");
    let (cert_file, key_file) = (folder.join("server.pem"), folder.join("server.key"));
    install(&first, &cert_file, &key_file);
    let server = ServerProcess::start(json!({
        "tls": { "certFile": cert_file, "keyFile": key_file },
        "limits": { "maxConnections": 1 },
    }));
    let held = Client::connect_with(server.addr, trusting(&first.ca_file)).await.unwrap();
    match Client::connect_with(server.addr, trusting(&first.ca_file)).await {
        Err(err) => {
            assert_eq!(err.code(), Some(vampire_client::ErrorCode::ServerBusy), "{err}")
        }
        Ok(_) => panic!("a connection past the limit was served"),
    }
    held.ping().await.unwrap();
}

#[tokio::test]
async fn the_admin_listener_speaks_tls_when_the_tcp_port_does() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let folder = support::temp_dir("tls-admin");
    let certificates = issue(&folder, "admin");
    let (cert_file, key_file) = (folder.join("server.pem"), folder.join("server.key"));
    install(&certificates, &cert_file, &key_file);
    let server = ServerProcess::start(json!({
        "tls": { "certFile": cert_file, "keyFile": key_file },
        "admin": support::admin_section(json!({})),
    }));
    let admin = server.admin.unwrap();

    // A plain client on the TLS game port: a failed handshake, counted.
    let mut plain = std::net::TcpStream::connect(server.addr).unwrap();
    plain.write_all(b"hello, not TLS\r\n").unwrap();
    let _ = plain.read(&mut [0u8; 64]);
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&certificates.ca_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let get = async |path: &str| {
        let socket = tokio::net::TcpStream::connect(admin).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut stream = connector.connect(name, socket).await.expect("a TLS handshake");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            support::ADMIN_TOKEN
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        // A peer may close without close_notify: what arrived is the answer.
        let _ = stream.read_to_end(&mut answer).await;
        support::http::parse(&answer).expect("an HTTP answer over TLS")
    };
    let answer = get("/admin/server").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.json()["version"].is_string());
    let metrics = get("/metrics").await.text();
    assert!(metrics.contains("vampire_tls_handshakes_failed_total 1"), "{metrics}");

    // Plain HTTP on the TLS admin port gets no answer.
    assert!(support::http::raw(admin, b"GET /healthz HTTP/1.1\r\n\r\n").await.is_none());
}

#[tokio::test]
async fn the_websocket_port_speaks_wss_with_the_same_certificate() {
    let folder = support::temp_dir("wss");
    let first = issue(&folder, "first");
    let server = tls_server(&folder, &first);
    let websocket = server.websocket.expect("the WebSocket port is on").to_string();
    let websocket = websocket.replace("127.0.0.1", "localhost");

    let mut browser =
        Client::connect_websocket(&websocket, trusting(&first.ca_file)).await.unwrap();
    let native = Client::connect_with(server.addr, trusting(&first.ca_file)).await.unwrap();
    let room = native.create_room(CreateRoom::default()).await.unwrap().id;
    native.join(&room, None).await.unwrap();
    browser.join(&room, None).await.unwrap();
    native.send_message(&room, vampire_client::Value::from("over wss")).await.unwrap();
    loop {
        match browser.next_event_within(Duration::from_secs(10)).await {
            Some(vampire_client::Incoming::Event(vampire_client::Event::RoomMessage {
                data,
                ..
            })) if data
                == vampire_client::Payload::from(vampire_client::Value::from("over wss")) =>
            {
                break;
            }
            Some(_) => continue,
            None => panic!("no message over wss"),
        }
    }

    // A client that does not trust the CA gets no WebSocket.
    let stranger = issue(&folder, "stranger");
    let refused = Client::connect_websocket(&websocket, trusting(&stranger.ca_file)).await;
    assert!(refused.is_err());
    // Nor does one speaking plain ws:// to the wss port.
    let plain = Client::connect_websocket(&websocket, ConnectOptions::default()).await;
    assert!(plain.is_err());
}
