//! SIP over TCP, the shell side: the connections to and from TCP trunks, each cut into
//! messages by Content-Length ([`rtcall_sip::message::frame_length`]) for the gateway. One
//! connection per peer: the one the peer opened, or one opened on the first message to it;
//! a connection that fails or closes is forgotten and reopened on the next message. Every
//! queue is bounded: a peer that sends faster than the gateway reads waits (TCP's own flow
//! control), and one that does not read what is sent to it loses its connection.

use rtcall_sip::message::frame_length;
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Messages from all connections waiting for the node.
const RECEIVED_CAPACITY: usize = 1024;
/// Messages waiting to be written to one connection.
const SEND_CAPACITY: usize = 256;

/// What the connections tell the node.
#[derive(Debug)]
pub enum StreamInput {
    /// A whole SIP message from `peer`.
    Message {
        /// Who sent it.
        peer: SocketAddr,
        /// The message.
        bytes: Vec<u8>,
    },
    /// The connection with `peer` is gone.
    Closed {
        /// Whose.
        peer: SocketAddr,
    },
}

/// The gateway's TCP connections.
#[derive(Debug)]
pub struct SipStreams {
    writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    tx: mpsc::Sender<StreamInput>,
}

impl SipStreams {
    /// No connections yet; what they receive goes to the returned receiver.
    pub fn new() -> (SipStreams, mpsc::Receiver<StreamInput>) {
        let (tx, rx) = mpsc::channel(RECEIVED_CAPACITY);
        (
            SipStreams {
                writers: HashMap::new(),
                tx,
            },
            rx,
        )
    }

    /// Sends `bytes` to `peer` on its connection, opening one if there is none.
    pub fn send(&mut self, peer: SocketAddr, bytes: Vec<u8>) {
        let writer = self.writers.entry(peer).or_insert_with(|| {
            let (writer, queue) = mpsc::channel(SEND_CAPACITY);
            let tx = self.tx.clone();
            tokio::spawn(async move {
                match TcpStream::connect(peer).await {
                    Ok(stream) => serve(stream, peer, queue, tx).await,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "cannot connect to a SIP trunk over TCP");
                        // Closed before it is said to be (see `closed`).
                        drop(queue);
                        let _ = tx.send(StreamInput::Closed { peer }).await;
                    }
                }
            });
            writer
        });
        match writer.try_send(bytes) {
            Ok(()) => {}
            // It does not read what it is sent: dropping the writer ends the connection.
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%peer, "a SIP connection stopped reading; closing it");
                self.writers.remove(&peer);
            }
            // A connection that just died: its Closed input is on its way.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Takes a connection `peer` opened.
    pub fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) {
        let (writer, queue) = mpsc::channel(SEND_CAPACITY);
        self.writers.insert(peer, writer);
        tokio::spawn(serve(stream, peer, queue, self.tx.clone()));
    }

    /// Forgets a connection that is gone (not a newer one to the same peer: a connection's
    /// writer is closed once its task ended).
    pub fn closed(&mut self, peer: SocketAddr) {
        if self.writers.get(&peer).is_some_and(|w| w.is_closed()) {
            self.writers.remove(&peer);
        }
    }
}

/// The next connection on the listener; never, without one.
pub async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Writes what is queued for `peer` and reads its messages, until either side ends.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    mut queue: mpsc::Receiver<Vec<u8>>,
    tx: mpsc::Sender<StreamInput>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let reading = {
        let tx = tx.clone();
        async move {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = reader.read(&mut chunk).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                buffer.extend_from_slice(&chunk[..n]);
                // A peer that sends what cannot be cut into messages loses its connection.
                while let Some(length) = frame_length(&buffer).map_err(std::io::Error::other)? {
                    let bytes = buffer.drain(..length).collect();
                    // Waiting here stops reading: the peer's sends wait in TCP's window.
                    if tx.send(StreamInput::Message { peer, bytes }).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    };
    let writing = async move {
        while let Some(bytes) = queue.recv().await {
            writer.write_all(&bytes).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let outcome = tokio::select! {
        read = reading => read,
        written = writing => written,
    };
    if let Err(e) = outcome {
        tracing::debug!(%peer, error = %e, "SIP connection ended");
    }
    let _ = tx.send(StreamInput::Closed { peer }).await;
}
