//! [`CuttingProxy`]: a TCP relay between clients and a server that a test
//! can sever (every connection through it reset at once), stall (bytes
//! held both ways, the sockets left open, as a train in a tunnel does)
//! and resume, and point at another server (as a load balancer may send a
//! client that reconnects to another node). Real sockets both sides; only
//! the test decides when the network fails.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with the connections through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Relays both ways.
    Flowing,
    /// Holds everything (reads nothing), sockets open.
    Stalled,
}

/// A relay to a server address, listening on a free loopback port.
pub struct CuttingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Where new connections are relayed.
    target: watch::Sender<SocketAddr>,
    mode: watch::Sender<Mode>,
    /// Bumped by each cut: every connection through the proxy then ends.
    cuts: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// Starts relaying from a free port to `target`.
    pub async fn start(target: SocketAddr) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().unwrap();
        let (target, target_rx) = watch::channel(target);
        let (mode, _) = watch::channel(Mode::Flowing);
        let (cuts, _) = watch::channel(0u64);
        let (mode_rx, cuts_rx) = (mode.subscribe(), cuts.subscribe());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let to = *target_rx.borrow();
                let Ok(server) = TcpStream::connect(to).await else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (mode, mut cuts) = (mode_rx.clone(), cuts_rx.clone());
                cuts.mark_unchanged();
                tokio::spawn(relay(client, server, mode, cuts));
            }
        });
        CuttingProxy { addr, target, mode, cuts, accept }
    }

    /// Severs every connection through the proxy now (both sides see the
    /// connection end); new connections are relayed as before.
    pub fn cut(&self) {
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Holds every byte both ways from now on, sockets open: neither side
    /// learns the connection is dead (until the server's idle timeout).
    pub fn stall(&self) {
        let _ = self.mode.send(Mode::Stalled);
    }

    /// Relays again after [`CuttingProxy::stall`].
    pub fn flow(&self) {
        let _ = self.mode.send(Mode::Flowing);
    }

    /// Relays new connections to `target` from now on; those open stay
    /// where they are.
    pub fn retarget(&self, target: SocketAddr) {
        let _ = self.target.send(target);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Relays one connection until either side ends or the proxy cuts it.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    mode: watch::Receiver<Mode>,
    mut cuts: watch::Receiver<u64>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mode = Arc::new(mode);
    tokio::select! {
        () = pump(client_read, server_write, mode.as_ref().clone()) => {}
        () = pump(server_read, client_write, mode.as_ref().clone()) => {}
        _ = cuts.changed() => {}
    }
    // Dropping both halves of both sockets ends the connection each way.
}

/// Copies `from` to `to` while the proxy flows.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while *mode.borrow_and_update() == Mode::Stalled {
            if mode.changed().await.is_err() {
                return;
            }
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = mode.changed() => continue,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
