//! The media workers: N threads, each with its own UDP sockets (one per address clients reach
//! it at) and its own [`Sfu`] for the calls [`Placement`] gives it, so the SRTP work of many
//! calls runs on every core while each SFU stays a single-threaded state machine. A worker
//! takes commands from the node and sends it the SFU's events; both channels are bounded, and
//! a worker never waits for the node while it works (its events wait with it while the node
//! is behind), so the node may wait for a worker without deadlock.
//!
//! Two things the single-threaded node did not need: when a call leaves a worker, the node
//! [flushes](MediaWorkers::flush) that worker, so that what its SFU said of the call is heard
//! before the call's id can be placed again (a group call started anew reuses its legs' keys);
//! and a worker that stopped (a bug) is retired, its calls' legs reported failed.

use super::placement::{Placement, Route};
use super::MAX_DATAGRAM;
use crate::contract::{MediaCommand, MediaEvent};
use crate::sfu::{MediaAddress, Sfu, SfuConfig};
use rtcall_protocol::signal::{ErrorKind, WireError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Commands waiting for one worker; beyond, the node waits for it.
const COMMAND_CAPACITY: usize = 1024;
/// Events from all workers waiting for the node; beyond, they wait in the workers.
const EVENT_CAPACITY: usize = 4096;
/// Datagrams taken at once when one arrives, before the SFU's output is sent.
const RECEIVE_BURST: usize = 64;
/// Each media socket's receive and send buffer: a large call's bursts (a second of every
/// speaker while the worker forwards a keyframe to hundreds) outlast the kernel's default of
/// 208 KiB. The kernel caps it at `net.core.rmem_max` / `wmem_max`.
const SOCKET_BUFFER: usize = 4 << 20;

/// What the node tells a worker.
#[derive(Debug)]
enum WorkerInput {
    /// A command for its SFU.
    Command(MediaCommand),
    /// Send every event there is, then say so.
    Flush(oneshot::Sender<()>),
}

/// One socket of a worker and the address clients send to it at.
#[derive(Debug)]
pub struct MediaSocket {
    pub socket: std::net::UdpSocket,
    pub advertised: SocketAddr,
}

/// One worker: where to send it commands, and where clients reach it.
#[derive(Debug)]
struct Worker {
    commands: mpsc::Sender<WorkerInput>,
    addresses: Vec<SocketAddr>,
}

/// The media workers and which call each carries.
#[derive(Debug)]
pub struct MediaWorkers {
    workers: Vec<Worker>,
    placement: Placement,
    events: mpsc::Receiver<MediaEvent>,
}

impl MediaWorkers {
    /// Starts a worker thread for each set of sockets (the addresses one worker is reached
    /// at); the rest of the SFU's settings come from `config`.
    pub fn start(
        config: &SfuConfig,
        sockets: Vec<Vec<MediaSocket>>,
    ) -> std::io::Result<MediaWorkers> {
        if sockets.is_empty() || sockets.iter().any(Vec::is_empty) {
            return Err(std::io::Error::other(
                "the node needs one media worker with a socket at least",
            ));
        }
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let mut workers = Vec::with_capacity(sockets.len());
        for (index, own) in sockets.into_iter().enumerate() {
            let mut addresses = Vec::with_capacity(own.len());
            for s in &own {
                s.socket.set_nonblocking(true)?;
                let buffers = socket2::SockRef::from(&s.socket);
                let sized = buffers
                    .set_recv_buffer_size(SOCKET_BUFFER)
                    .and_then(|()| buffers.set_send_buffer_size(SOCKET_BUFFER));
                // Smaller buffers only drop more in bursts: not a reason to refuse to start.
                if let Err(e) = sized {
                    tracing::warn!(error = %e, "cannot size a media socket's buffers");
                }
                let granted = buffers.recv_buffer_size().unwrap_or(0);
                if granted < SOCKET_BUFFER {
                    tracing::info!(
                        granted,
                        "media socket receive buffer below {SOCKET_BUFFER} B: raise \
                         net.core.rmem_max and wmem_max for large calls"
                    );
                }
                addresses.push(MediaAddress {
                    socket: s.socket.local_addr()?,
                    advertised: s.advertised,
                });
            }
            let sfu = Sfu::new(SfuConfig {
                addresses: addresses.clone(),
                ..config.clone()
            })
            .map_err(std::io::Error::other)?;
            let (commands, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
            let events_tx = events_tx.clone();
            let bound = addresses.iter().map(|a| a.socket).collect();
            let own: Vec<_> = own.into_iter().map(|s| s.socket).collect();
            std::thread::Builder::new()
                .name(format!("rtcall-media-{index}"))
                .spawn(move || run(sfu, own, addresses, commands_rx, events_tx))?;
            workers.push(Worker {
                commands,
                addresses: bound,
            });
        }
        Ok(MediaWorkers {
            placement: Placement::new(workers.len()),
            workers,
            events,
        })
    }

    /// The workers' socket addresses, each worker's in turn.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.workers
            .iter()
            .flat_map(|w| w.addresses.iter().copied())
            .collect()
    }

    /// Gives a command to the worker of its call, waiting while that worker is behind.
    /// Returns where it went, and the events that stand in for a worker that stopped: its legs
    /// failed, and an answer it will never give.
    pub async fn send(&mut self, command: MediaCommand) -> (Route, Vec<MediaEvent>) {
        let route = self.placement.route(&command);
        let worker = &self.workers[route.worker];
        let Err(lost) = worker.commands.send(WorkerInput::Command(command)).await else {
            return (route, Vec::new());
        };
        tracing::error!(
            worker = route.worker,
            "a media worker stopped; its calls' media failed"
        );
        let mut events: Vec<MediaEvent> = self
            .placement
            .retire(route.worker)
            .into_iter()
            .map(|leg| MediaEvent::Failed { leg })
            .collect();
        if let WorkerInput::Command(MediaCommand::Answer { leg, reply, .. }) = lost.0 {
            events.push(MediaEvent::Answered {
                leg,
                reply,
                outcome: Err(WireError::new(
                    ErrorKind::Internal,
                    "the media worker stopped",
                )),
            });
        }
        (route, events)
    }

    /// Asks `worker` to send every event it has; the receiver completes once it has (or the
    /// worker is gone). Meanwhile the node must go on taking events, which may fill the
    /// channel before the worker is done.
    pub async fn flush(&mut self, worker: usize) -> oneshot::Receiver<()> {
        let (done, flushed) = oneshot::channel();
        // A worker that is gone has nothing more to say: the receiver completes at once.
        let _ = self.workers[worker]
            .commands
            .send(WorkerInput::Flush(done))
            .await;
        flushed
    }

    /// The next event from any worker.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        self.events.recv().await
    }

    /// An event that already waits, if any.
    pub fn try_event(&mut self) -> Option<MediaEvent> {
        self.events.try_recv().ok()
    }
}

/// The `index`-th address above `first` (port + index).
pub fn shifted(first: SocketAddr, index: usize) -> Result<SocketAddr, String> {
    let port = u16::try_from(usize::from(first.port()) + index)
        .map_err(|_| format!("{first} + {index} ports is past port 65535"))?;
    Ok(SocketAddr::new(first.ip(), port))
}

/// A worker thread: its own single-threaded runtime around its sockets and SFU, until the node
/// drops its command channel.
fn run(
    sfu: Sfu,
    sockets: Vec<std::net::UdpSocket>,
    addresses: Vec<MediaAddress>,
    commands: mpsc::Receiver<WorkerInput>,
    events: mpsc::Sender<MediaEvent>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a media worker");
            return;
        }
    };
    runtime.block_on(async move {
        match sockets.into_iter().map(UdpSocket::from_std).collect() {
            Ok(sockets) => serve(sfu, sockets, addresses, commands, events).await,
            Err(e) => tracing::error!(error = %e, "a media worker has no socket"),
        }
    });
}

/// Waits for a datagram on any of `sockets`, looking at them from `first` on so that a busy
/// one does not starve the others. Returns the socket's index with what `recv_from` returns.
async fn receive_any(
    sockets: &[UdpSocket],
    first: usize,
    buf: &mut [u8],
) -> (usize, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for k in 0..sockets.len() {
            let index = (first + k) % sockets.len();
            let mut read = ReadBuf::new(buf);
            if let Poll::Ready(result) = sockets[index].poll_recv_from(cx, &mut read) {
                return Poll::Ready((index, result.map(|source| (read.filled().len(), source))));
            }
        }
        Poll::Pending
    })
    .await
}

async fn serve(
    mut sfu: Sfu,
    sockets: Vec<UdpSocket>,
    addresses: Vec<MediaAddress>,
    mut commands: mpsc::Receiver<WorkerInput>,
    events: mpsc::Sender<MediaEvent>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut first = 0;
    // Events the node has no room for yet.
    let mut waiting: VecDeque<MediaEvent> = VecDeque::new();
    loop {
        // Far enough to mean "never", near enough for tokio's timer.
        let deadline = sfu
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            (index, received) = receive_any(&sockets, first, &mut buf) => {
                let now = Instant::now();
                first = (index + 1) % sockets.len();
                let (socket, local) = (&sockets[index], addresses[index].socket);
                match received {
                    Ok((n, source)) => {
                        sfu.handle_receive(now, source, local, &buf[..n]);
                        for _ in 0..RECEIVE_BURST {
                            match socket.try_recv_from(&mut buf) {
                                Ok((n, source)) => sfu.handle_receive(now, source, local, &buf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "media socket receive failed"),
                }
            }
            input = commands.recv() => match input {
                Some(WorkerInput::Command(command)) => sfu.handle_command(Instant::now(), command),
                Some(WorkerInput::Flush(done)) => {
                    waiting.extend(std::iter::from_fn(|| sfu.poll_event()));
                    for event in waiting.drain(..) {
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    let _ = done.send(());
                }
                None => return,
            },
            permit = events.reserve(), if !waiting.is_empty() => {
                let Ok(permit) = permit else { return };
                if let Some(event) = waiting.pop_front() {
                    permit.send(event);
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => sfu.handle_timeout(Instant::now()),
        }
        while let Some(transmit) = sfu.poll_transmit() {
            // str0m sends from a candidate: the socket that candidate advertises.
            let Some(index) = addresses
                .iter()
                .position(|a| a.advertised == transmit.source)
            else {
                tracing::debug!(source = %transmit.source, "no socket for a datagram's source");
                continue;
            };
            // A full socket buffer drops the datagram, as the network would, rather than
            // stalling every call on this worker.
            let _ = sockets[index].try_send_to(&transmit.contents, transmit.destination);
        }
        waiting.extend(std::iter::from_fn(|| sfu.poll_event()));
        while !waiting.is_empty() {
            let Ok(permit) = events.try_reserve() else {
                break;
            };
            if let Some(event) = waiting.pop_front() {
                permit.send(event);
            }
        }
    }
}
