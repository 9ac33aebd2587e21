//! The client's side of the UDP channel ([`vampire_protocol::udp`]): a
//! socket connected to the server's UDP port, the session's keys, and a
//! task that opens arriving datagrams and hands their events to the
//! client's event stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use vampire_protocol::udp::{
    Binding, ClientDatagram, Direction, Freshness, HEADER_BYTES, Header, MAX_DATAGRAM_BYTES,
    ReplayWindow, SealKey,
};
use vampire_protocol::{Payload, ServerMessage};

use crate::{ClientError, Incoming};

/// An open UDP channel.
pub struct UdpLink {
    socket: Arc<UdpSocket>,
    session: u64,
    to_server: SealKey,
    /// The sequence number of the next datagram sent.
    next: Arc<AtomicU64>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

/// How often the client says hello on its own, so that the server knows
/// (and a NAT keeps) its address while it sends nothing else.
const HELLO_EVERY: Duration = Duration::from_secs(5);

impl UdpLink {
    /// Connects to the server's UDP port with `binding`'s keys, says hello
    /// (which binds this address at the server), and starts receiving.
    ///
    /// # Errors
    /// When the socket cannot be opened.
    pub(crate) async fn open(
        server: SocketAddr,
        binding: Binding,
        events: mpsc::UnboundedSender<Incoming>,
    ) -> Result<UdpLink, ClientError> {
        let local: SocketAddr =
            if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = Arc::new(UdpSocket::bind(local).await?);
        socket.connect(server).await?;
        let to_server = SealKey::new(&binding.to_server_key);
        let to_client = SealKey::new(&binding.to_client_key);
        let next = Arc::new(AtomicU64::new(0));
        let receiver = tokio::spawn(receive(socket.clone(), binding.session, to_client, events));
        // Hello now, again shortly (a datagram may be lost), then now and
        // then.
        let hello = {
            let (socket, key, next) = (socket.clone(), to_server.clone(), next.clone());
            tokio::spawn(async move {
                for pause in
                    [Duration::ZERO, Duration::from_millis(100), Duration::from_millis(400)]
                        .into_iter()
                        .chain(std::iter::repeat(HELLO_EVERY))
                {
                    tokio::time::sleep(pause).await;
                    let _ =
                        send(&socket, binding.session, &key, &next, &ClientDatagram::Hello).await;
                }
            })
        };
        Ok(UdpLink { socket, session: binding.session, to_server, next, tasks: [receiver, hello] })
    }

    /// Sends an unreliable message to `room`.
    ///
    /// # Errors
    /// A message too large for a datagram, or a transport error.
    pub async fn send_message(&self, room: &str, data: Payload) -> Result<(), ClientError> {
        let datagram = ClientDatagram::Message { room: room.to_owned(), data };
        send(&self.socket, self.session, &self.to_server, &self.next, &datagram).await
    }

    /// Stops the channel's tasks.
    pub fn close(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn send(
    socket: &UdpSocket,
    session: u64,
    key: &SealKey,
    next: &AtomicU64,
    datagram: &ClientDatagram,
) -> Result<(), ClientError> {
    let header = Header { session, sequence: next.fetch_add(1, Ordering::Relaxed) };
    let mut sealed = Vec::with_capacity(MAX_DATAGRAM_BYTES);
    key.seal(Direction::ToServer, header, &datagram.encode(), &mut sealed).map_err(|_| {
        ClientError::Decode(vampire_protocol::DecodeError(
            "the message is too large for a datagram".into(),
        ))
    })?;
    socket.send(&sealed).await?;
    Ok(())
}

/// Opens arriving datagrams and hands their events on; drops anything
/// that does not authenticate or was seen already.
async fn receive(
    socket: Arc<UdpSocket>,
    session: u64,
    key: SealKey,
    events: mpsc::UnboundedSender<Incoming>,
) {
    let mut window = ReplayWindow::default();
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    loop {
        let Ok(len) = socket.recv(&mut buf).await else { continue };
        let datagram = &mut buf[..len];
        let Some(header) = Header::read(datagram) else { continue };
        if header.session != session
            || matches!(window.check(header.sequence), Freshness::Replayed | Freshness::Stale)
        {
            continue;
        }
        let Ok(end) = key.open(Direction::ToClient, datagram) else { continue };
        window.accept(header.sequence);
        let body = bytes::Bytes::copy_from_slice(&datagram[HEADER_BYTES..end]);
        if let Ok(ServerMessage::Event(event)) = ServerMessage::decode(&body)
            && events.send(Incoming::Event(event)).is_err()
        {
            return;
        }
    }
}
