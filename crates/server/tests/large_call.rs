//! The brief's largest call: 350 people on one node, in the shape of a big meeting (five
//! talking, ten cameras in three simulcast layers, a screen share; everyone watching the loudest
//! large, two other cameras as tiles and the share). Three participants decode what they receive
//! and check it frame by frame; everyone else leaves it to the kernel, whose per-socket counts
//! show that media reached every one of them. (`bench/calls.sh` runs the full gallery of
//! nine tiles each on the optimised server; this debug build carries less.)

mod common;

use common::{data_dir, TestServer};
use rtcall_loadgen::scenario::{discarded, meeting, new_call_id, MeetingShape, TILE_HEIGHT};
use rtcall_loadgen::{MediaState, Tag};
use rtcall_protocol::call::{ParticipantState, StreamId};
use rtcall_protocol::signal::{ErrorKind, Reply, Request};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PARTICIPANTS: Tag = 350;

/// How long a condition on everyone's media may take to hold.
const DEADLINE: Duration = Duration::from_secs(30);

/// The audio frames from the talkers `tags`, each.
fn heard(state: &MediaState, tags: impl IntoIterator<Item = Tag>) -> Vec<u64> {
    tags.into_iter().map(|t| state.audio_from_tag(t)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_350_person_meeting_reaches_everyone_with_the_layers_they_asked_for() {
    let dir = data_dir();
    let server = TestServer::start(common::SERVER_BIN, dir.path(), &[]);
    let call = new_call_id();
    let shape = MeetingShape {
        tiles: 2,
        ..MeetingShape::large(PARTICIPANTS)
    };
    let mut clients = meeting(&server.url, &call, shape).await;
    let first_observer = usize::from(PARTICIPANTS - shape.observers);
    // Tags run from 1: participant i is tag i + 1. The loudest three talk at -10, -15 and -20
    // dBov; the other two talkers are quieter, and everyone else is silent.
    let loudest = 1..=3;
    for observer in &clients[first_observer..] {
        observer
            .wait_media(&call, "the three loudest talkers", |m| {
                heard(m, loudest.clone()).iter().all(|n| *n >= 25)
            })
            .await;
        let media = observer.media(&call);
        let before = media.lock().unwrap().lines.clone();
        let others_before = heard(&media.lock().unwrap(), 4..=PARTICIPANTS);
        observer
            .wait_media(&call, "a second more of them", |m| {
                let now = heard(m, loudest.clone());
                let start: Vec<u64> = loudest
                    .clone()
                    .map(|t| {
                        before
                            .values()
                            .map(|l| l.by_tag.get(&t).copied().unwrap_or(0))
                            .sum::<u64>()
                    })
                    .collect();
                now.iter().zip(start).all(|(n, s)| *n >= s + 50)
            })
            .await;
        assert_eq!(
            heard(&media.lock().unwrap(), 4..=PARTICIPANTS),
            others_before,
            "only the three loudest are forwarded in a call this large"
        );
    }
    // Video: the loudest (tag 1) large (the layer its path's estimate allows beside the share:
    // tags 10-12); two other cameras (tags 2 and 3) as tiles, from their quarter layers only; the
    // share (participant 10, tag 11) whole.
    let observer = &clients[first_observer];
    observer
        .wait_media(&call, "the speaker large, the tiles and the share", |m| {
            (10..=12).map(|t| m.video_from_tag(t).0).sum::<u64>() >= 10
                && (2..=3).all(|t| m.video_from_tag(t * 10).0 >= 5)
                && m.video_from_tag(11 * 10 + 9).0 >= 3
        })
        .await;
    {
        let media = observer.media(&call);
        let state = media.lock().unwrap();
        for t in 2..=10 {
            for layer in [1, 2].into_iter().chain((t > 3).then_some(0)) {
                assert_eq!(
                    state.video_from_tag(t * 10 + layer).0,
                    0,
                    "the observer got layer {layer} of camera {t}"
                );
            }
        }
    }
    // Everyone else: each socket's filter dropped another second or so of media (each receives
    // about 200 packets a second: three voices, three videos, the share).
    let discarding = &clients[..first_observer];
    let start = discarded(&call, discarding);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = discarded(&call, discarding);
        let behind: Vec<usize> = now
            .iter()
            .zip(&start)
            .enumerate()
            .filter(|(_, (n, s))| **n < **s + 200)
            .map(|(i, _)| i)
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} participants got too little media, e.g. participant {}",
            behind.len(),
            behind[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The observer shrinks the speaker's view to a tile: the quarter layer from then on.
    let speaker = clients[0].identity.clone();
    let observer = &mut clients[first_observer];
    let pid = observer
        .wait_participant(&call, &speaker, ParticipantState::Connected)
        .await;
    let stream = observer.wait_camera(&call, pid).await;
    let quarter = observer.media(&call).lock().unwrap().video_from_tag(10).0;
    observer
        .ok(Request::Subscribe {
            call_id: call.clone(),
            stream_id: stream,
            max_height: TILE_HEIGHT,
        })
        .await;
    observer
        .wait_media(&call, "the speaker's quarter layer", |m| {
            m.video_from_tag(10).0 >= quarter + 10
        })
        .await;
    let (quarter, full) = {
        let media = observer.media(&call);
        let state = media.lock().unwrap();
        (state.video_from_tag(10).0, state.video_from_tag(12).0)
    };
    observer
        .wait_media(&call, "more of the quarter layer", |m| {
            m.video_from_tag(10).0 >= quarter + 15
        })
        .await;
    assert_eq!(
        observer.media(&call).lock().unwrap().video_from_tag(12).0,
        full,
        "the full layer went on after the view shrank"
    );
    // Bad input from one participant: a thousand subscriptions, every stream of the call and
    // then some that do not exist. Past the limit and for the strangers it gets typed errors;
    // everyone else's media goes on.
    let streams: Vec<StreamId> = observer.rosters[&call]
        .values()
        .filter(|p| p.identity != observer.identity)
        .flat_map(|p| p.streams.iter().map(|s| s.stream_id))
        .collect();
    let strangers = (0..).map(|i| StreamId(u32::MAX - i));
    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    for stream_id in streams.into_iter().chain(strangers).take(1_000) {
        let reply = observer
            .request(Request::Subscribe {
                call_id: call.clone(),
                stream_id,
                max_height: TILE_HEIGHT,
            })
            .await;
        let outcome = match reply {
            Ok(Reply::Done) => "subscribed",
            Err(e) if e.is(ErrorKind::LimitReached) => "over the limit",
            Err(e) if e.is(ErrorKind::InvalidArgument) => "no such stream",
            other => panic!("unexpected reply {other:?}"),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(outcomes["subscribed"], 64, "{outcomes:?}");
    assert_eq!(outcomes["over the limit"], 2 * 349 - 64, "{outcomes:?}");
    assert_eq!(outcomes["no such stream"], 1_000 - 2 * 349, "{outcomes:?}");
    for other in &clients[first_observer + 1..] {
        let before = heard(&other.media(&call).lock().unwrap(), loudest.clone());
        other
            .wait_media(&call, "the loudest still, after the flood", |m| {
                heard(m, loudest.clone())
                    .iter()
                    .zip(&before)
                    .all(|(n, b)| *n >= b + 50)
            })
            .await;
    }
    let log = server.stop();
    assert!(!log.contains("panicked"), "{log}");
}
