//! The call shapes the server's integration tests and the load generator both set up: a
//! group of clients in one call, a pair talking 1:1, everyone watching some cameras, the
//! brief's large meeting.

use crate::client::Client;
use crate::kernel::udp_sockets;
use crate::media::{Receiving, Sending, Tag};
use rtcall_protocol::call::{CallId, ParticipantState, StreamKind};
use rtcall_protocol::signal::{Request, VideoSource};
use std::collections::HashMap;

/// A call id no other call has.
pub fn new_call_id() -> CallId {
    CallId(uuid::Uuid::new_v4().to_string())
}

/// Clients tagged `tags` (named `P<tag>`), each joined to the group call `call` and Connected.
pub async fn group(
    server_url: &str,
    call: &CallId,
    tags: impl IntoIterator<Item = Tag>,
    receiving: Receiving,
) -> Vec<Client> {
    let mut clients = Vec::new();
    for tag in tags {
        let mut client =
            Client::connect_receiving(server_url, &format!("P{tag}"), tag, receiving).await;
        client.join_group(call).await;
        clients.push(client);
    }
    clients
}

/// A 1:1 call from `caller` to `callee`, both Connected and sending audio at -20 dBov.
pub async fn talking_pair(caller: &mut Client, callee: &mut Client) -> CallId {
    let call = caller.call_and_answer(callee).await;
    caller.send(&call, Sending::audio(-20));
    callee.send(&call, Sending::audio(-20));
    call
}

/// The clients at `publishers` (indices into `clients`) start their cameras (15 fps, audio at
/// `audio_level`), and every other client subscribes to each of them at `max_height`.
pub async fn watch_cameras(
    clients: &mut [Client],
    call: &CallId,
    publishers: &[usize],
    audio_level: i8,
    max_height: u32,
) {
    for &p in publishers {
        clients[p].send(
            call,
            Sending {
                audio_level: Some(audio_level),
                video_fps: 15,
                ..Sending::default()
            },
        );
        clients[p]
            .ok(Request::SetVideo {
                call_id: call.clone(),
                source: VideoSource::Camera,
                on: true,
            })
            .await;
    }
    for viewer in 0..clients.len() {
        for &p in publishers.iter().filter(|p| **p != viewer) {
            let identity = clients[p].identity.clone();
            let participant = clients[viewer]
                .wait_participant(call, &identity, ParticipantState::Connected)
                .await;
            let stream = clients[viewer].wait_camera(call, participant).await;
            clients[viewer]
                .ok(Request::Subscribe {
                    call_id: call.clone(),
                    stream_id: stream,
                    max_height,
                })
                .await;
        }
    }
}

/// The shape of a large meeting (see [`meeting`]).
#[derive(Debug, Clone, Copy)]
pub struct MeetingShape {
    pub participants: Tag,
    /// The first this many talk, each at its own level (-10, -15, … dBov, the first loudest);
    /// everyone else sends silence as Opus DTX does.
    pub talkers: usize,
    /// The first this many send their camera (three simulcast layers, 15 fps); the first of
    /// them, the loudest talker, is who everyone watches large.
    pub cameras: usize,
    /// How many of the other cameras each participant renders as gallery tiles (beside the
    /// loudest, large).
    pub tiles: usize,
    /// The participant after the cameras shares a screen (5 fps).
    pub screen: bool,
    /// The last this many joiners decode what they receive; the others leave it to the kernel
    /// to drop (and count).
    pub observers: Tag,
}

impl MeetingShape {
    /// The brief's large meeting: 5 talking, 10 cameras (everyone renders the loudest large
    /// and the other nine as tiles), one screen share.
    pub fn large(participants: Tag) -> Self {
        MeetingShape {
            participants,
            talkers: 5,
            cameras: 10,
            tiles: 9,
            screen: true,
            observers: 3,
        }
    }

    /// The index of the participant sharing a screen, if one does.
    pub fn sharer(&self) -> Option<usize> {
        self.screen.then_some(self.cameras)
    }
}

/// The height a gallery tile renders at: the lowest simulcast layer.
pub const TILE_HEIGHT: u32 = 180;
/// The height the dominant speaker renders at, large: the highest layer.
pub const SPEAKER_HEIGHT: u32 = 720;
/// The height a screen share renders at.
pub const SCREEN_HEIGHT: u32 = 1080;

/// A large meeting in the group call `call`: everyone joins (in order, tags 1 up) and sends
/// audio as `shape` says; the camera publishers and the screen sharer start their video; every
/// participant then renders the first camera large, the next `tiles` cameras (not its own) as
/// gallery tiles, and the screen share.
pub async fn meeting(server_url: &str, call: &CallId, shape: MeetingShape) -> Vec<Client> {
    let n = shape.participants;
    let discarding = n.saturating_sub(shape.observers);
    let mut clients = group(server_url, call, 1..=discarding, Receiving::Discard).await;
    clients.extend(group(server_url, call, discarding + 1..=n, Receiving::Decode).await);
    for (i, client) in clients.iter_mut().enumerate() {
        let camera = i < shape.cameras;
        let sharing = shape.sharer() == Some(i);
        client.send(
            call,
            Sending {
                audio_level: Some(if i < shape.talkers {
                    -10 - 5 * i as i8
                } else {
                    -127
                }),
                dtx: true,
                video_fps: if camera { 15 } else { 0 },
                simulcast: true,
                screen_fps: if sharing { 5 } else { 0 },
                ..Sending::default()
            },
        );
        for (on, source) in [
            (camera, VideoSource::Camera),
            (sharing, VideoSource::Screen),
        ] {
            if on {
                client
                    .ok(Request::SetVideo {
                        call_id: call.clone(),
                        source,
                        on: true,
                    })
                    .await;
            }
        }
    }
    let publishers: Vec<(String, StreamKind, u32)> = clients
        .iter()
        .take(shape.cameras)
        .enumerate()
        .map(|(i, c)| {
            let height = if i == 0 { SPEAKER_HEIGHT } else { TILE_HEIGHT };
            (c.identity.clone(), StreamKind::Video, height)
        })
        .chain(shape.sharer().map(|i| {
            (
                clients[i].identity.clone(),
                StreamKind::ScreenSharing,
                SCREEN_HEIGHT,
            )
        }))
        .collect();
    // A few dozen viewers at a time: all 350 at once would queue each request behind thousands
    // of others (every subscription renegotiates), past a client's deadline on a busy machine.
    for viewers in clients.chunks_mut(VIEWERS_AT_ONCE) {
        let views = viewers
            .iter_mut()
            .map(|viewer| view(viewer, call, &publishers, shape.tiles));
        futures_util::future::join_all(views).await;
    }
    clients
}

/// `viewer` subscribes to `publishers` (identity, stream, rendered height) but itself, taking
/// the first `tiles` of those rendered as tiles.
async fn view(
    viewer: &mut Client,
    call: &CallId,
    publishers: &[(String, StreamKind, u32)],
    tiles: usize,
) {
    let mut taken = 0;
    for (identity, kind, height) in publishers {
        if *identity == viewer.identity {
            continue;
        }
        if *height == TILE_HEIGHT {
            if taken == tiles {
                continue;
            }
            taken += 1;
        }
        let participant = viewer
            .wait_participant(call, identity, ParticipantState::Connected)
            .await;
        let stream = viewer.wait_stream(call, participant, *kind).await;
        viewer
            .ok(Request::Subscribe {
                call_id: call.clone(),
                stream_id: stream,
                max_height: *height,
            })
            .await;
    }
}

/// Viewers that subscribe at the same time while a meeting is set up.
const VIEWERS_AT_ONCE: usize = 25;

/// The RTP datagrams each of `clients` (in `call`, receiving as [`Receiving::Discard`]) had
/// its socket filter drop so far: what the server sent it.
pub fn discarded(call: &CallId, clients: &[Client]) -> Vec<u64> {
    let drops: HashMap<u16, u64> = udp_sockets()
        .into_iter()
        .map(|s| (s.port, s.drops))
        .collect();
    clients
        .iter()
        .map(|c| {
            let port = c.media(call).lock().unwrap().port;
            drops.get(&port).copied().unwrap_or(0)
        })
        .collect()
}
