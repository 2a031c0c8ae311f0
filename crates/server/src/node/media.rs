//! The media workers: N threads, each with its own UDP socket and its own [`Sfu`] for the
//! calls [`Placement`] gives it, so the SRTP work of many calls runs on every core while each
//! SFU stays a single-threaded state machine. A worker takes commands from the node and sends
//! it the SFU's events; both channels are bounded, and a worker never waits for the node while
//! it works (its events wait with it while the node is behind), so the node may wait for a
//! worker without deadlock.
//!
//! Two things the single-threaded node did not need: when a call leaves a worker, the node
//! [flushes](MediaWorkers::flush) that worker, so that what its SFU said of the call is heard
//! before the call's id can be placed again (a group call started anew reuses its legs' keys);
//! and a worker that stopped (a bug) is retired, its calls' legs reported failed.

use super::placement::{Placement, Route};
use super::MAX_DATAGRAM;
use crate::contract::{MediaCommand, MediaEvent};
use crate::sfu::{Sfu, SfuConfig};
use rtcall_protocol::signal::{ErrorKind, WireError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Commands waiting for one worker; beyond, the node waits for it.
const COMMAND_CAPACITY: usize = 1024;
/// Events from all workers waiting for the node; beyond, they wait in the workers.
const EVENT_CAPACITY: usize = 4096;
/// Datagrams taken at once when one arrives, before the SFU's output is sent.
const RECEIVE_BURST: usize = 64;

/// What the node tells a worker.
#[derive(Debug)]
enum WorkerInput {
    /// A command for its SFU.
    Command(MediaCommand),
    /// Send every event there is, then say so.
    Flush(oneshot::Sender<()>),
}

/// One worker: where to send it commands, and where clients reach it.
#[derive(Debug)]
struct Worker {
    commands: mpsc::Sender<WorkerInput>,
    address: SocketAddr,
}

/// The media workers and which call each carries.
#[derive(Debug)]
pub struct MediaWorkers {
    workers: Vec<Worker>,
    placement: Placement,
    events: mpsc::Receiver<MediaEvent>,
}

impl MediaWorkers {
    /// Starts a worker thread for each socket. Each one's SFU advertises `public` if given
    /// (the address clients reach the first socket at; the k-th socket is reached `k` ports
    /// above it), else its socket's own address; the rest of the settings come from `config`.
    pub fn start(
        config: &SfuConfig,
        public: Option<SocketAddr>,
        sockets: Vec<std::net::UdpSocket>,
    ) -> std::io::Result<MediaWorkers> {
        if sockets.is_empty() {
            return Err(std::io::Error::other(
                "the node needs one media worker at least",
            ));
        }
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let mut workers = Vec::with_capacity(sockets.len());
        for (index, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(true)?;
            let address = socket.local_addr()?;
            let public = public
                .map(|p| shifted(p, index))
                .transpose()
                .map_err(std::io::Error::other)?;
            let sfu = Sfu::new(SfuConfig {
                udp: address,
                public,
                ..config.clone()
            })
            .map_err(std::io::Error::other)?;
            let (commands, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
            let events_tx = events_tx.clone();
            std::thread::Builder::new()
                .name(format!("rtcall-media-{index}"))
                .spawn(move || run(sfu, socket, commands_rx, events_tx))?;
            workers.push(Worker { commands, address });
        }
        Ok(MediaWorkers {
            placement: Placement::new(workers.len()),
            workers,
            events,
        })
    }

    /// The workers' socket addresses.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.address).collect()
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
        tracing::error!(worker = %worker.address, "a media worker stopped; its calls' media failed");
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

/// A worker thread: its own single-threaded runtime around its socket and SFU, until the node
/// drops its command channel.
fn run(
    sfu: Sfu,
    socket: std::net::UdpSocket,
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
        match UdpSocket::from_std(socket) {
            Ok(socket) => serve(sfu, socket, commands, events).await,
            Err(e) => tracing::error!(error = %e, "a media worker has no socket"),
        }
    });
}

async fn serve(
    mut sfu: Sfu,
    socket: UdpSocket,
    mut commands: mpsc::Receiver<WorkerInput>,
    events: mpsc::Sender<MediaEvent>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // Events the node has no room for yet.
    let mut waiting: VecDeque<MediaEvent> = VecDeque::new();
    loop {
        // Far enough to mean "never", near enough for tokio's timer.
        let deadline = sfu
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let now = Instant::now();
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
            // A full socket buffer drops the datagram, as the network would, rather than
            // stalling every call on this worker.
            let _ = socket.try_send_to(&transmit.contents, transmit.destination);
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
