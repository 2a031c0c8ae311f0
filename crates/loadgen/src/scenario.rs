//! The call shapes the server's integration tests and the load generator both set up: a
//! group of clients in one call, a pair talking 1:1, everyone watching some cameras.

use crate::client::Client;
use crate::media::{Receiving, Sending};
use rtcall_protocol::call::{CallId, ParticipantState};
use rtcall_protocol::signal::{Request, VideoSource};

/// A call id no other call has.
pub fn new_call_id() -> CallId {
    CallId(uuid::Uuid::new_v4().to_string())
}

/// Clients tagged `tags` (named `P<tag>`), each joined to the group call `call` and Connected.
pub async fn group(
    server_url: &str,
    call: &CallId,
    tags: impl IntoIterator<Item = u8>,
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
