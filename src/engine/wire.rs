//! The signaling frames as JSON, read and written by hand. The format is `rtcall_protocol`'s
//! (its serde types are the definition, and the tests check this module against them); reading
//! goes through [`Json`], which the browser implements over its own `JSON.parse`, and writing
//! produces the text directly. Neither needs serde or a JSON library in the wasm. Call
//! features' messages stay JSON text ([`RawJson`]) for the features' own code to read.

use rtcall_protocol::call::{
    CallId, CallState, EndReason, ParticipantId, ParticipantState, StreamId, StreamKind,
};
use rtcall_protocol::features::{RawJson, Role};
use rtcall_protocol::signal::{
    ClientFrame, EchoReport, Event, IceServer, MediaLine, ParticipantInfo, RemovedParticipant,
    Reply, Request, ServerFrame, StreamInfo, VideoSource, WireError,
};

/// A server frame as the browser core holds it.
pub type Incoming = ServerFrame<RawJson>;

/// A client frame as the browser core holds it.
pub type Outgoing = ClientFrame<RawJson>;

/// A parsed JSON value, as far as reading frames needs.
pub trait Json: Sized {
    /// Field `name` of an object; `None` if absent or null.
    fn get(&self, name: &str) -> Option<Self>;
    /// The string this is.
    fn string(&self) -> Option<String>;
    /// The number this is.
    fn number(&self) -> Option<f64>;
    /// The boolean this is.
    fn boolean(&self) -> Option<bool>;
    /// The elements of an array (none for anything else).
    fn items(&self) -> Vec<Self>;
    /// An enum value's name: the string itself, or an object's only key.
    fn tag(&self) -> Option<String>;
    /// This value as JSON text.
    fn text(&self) -> String;
}

// ---- reading ----

fn text<J: Json>(v: &J, name: &str) -> Option<String> {
    v.get(name)?.string()
}

fn text_or_empty<J: Json>(v: &J, name: &str) -> String {
    text(v, name).unwrap_or_default()
}

fn uint<J: Json>(v: &J, name: &str) -> Option<u64> {
    let n = v.get(name)?.number()?;
    (n >= 0.0 && n.fract() == 0.0).then_some(n as u64)
}

/// An optional whole number: `Some(None)` if absent, `None` if present but not one.
fn optional_uint<J: Json>(v: &J, name: &str) -> Option<Option<u64>> {
    match v.get(name) {
        None => Some(None),
        Some(_) => uint(v, name).map(Some),
    }
}

fn u32_of<J: Json>(v: &J, name: &str) -> Option<u32> {
    uint(v, name).and_then(|n| u32::try_from(n).ok())
}

fn flag<J: Json>(v: &J, name: &str) -> bool {
    v.get(name).and_then(|b| b.boolean()).unwrap_or(false)
}

fn call_id<J: Json>(v: &J) -> Option<CallId> {
    text(v, "callId").map(CallId)
}

fn participant<J: Json>(v: &J, name: &str) -> Option<ParticipantId> {
    u32_of(v, name).map(ParticipantId)
}

fn end_reason<J: Json>(v: &J) -> Option<EndReason> {
    Some(EndReason {
        code: u16::try_from(uint(v, "code")?).ok()?,
        sub_code: u32_of(v, "subCode")?,
    })
}

fn named<T>(v: Option<String>, parse: fn(&str) -> Option<T>) -> Option<T> {
    parse(&v?)
}

/// A server frame; `None` if it is not one this library reads (a newer server's extension).
pub fn read_frame<J: Json>(v: &J) -> Option<Incoming> {
    Some(ServerFrame {
        seq: optional_uint(v, "seq")?,
        re: match optional_uint(v, "re")? {
            Some(re) => Some(u32::try_from(re).ok()?),
            None => None,
        },
        ok: match v.get("ok") {
            Some(ok) => Some(read_reply(&ok)?),
            None => None,
        },
        err: match v.get("err") {
            Some(err) => Some(WireError {
                code: u16::try_from(uint(&err, "code")?).ok()?,
                sub_code: u32_of(&err, "subCode")?,
                message: text_or_empty(&err, "message"),
            }),
            None => None,
        },
        ev: match v.get("ev") {
            Some(ev) => Some(read_event(&ev)?),
            None => None,
        },
    })
}

fn read_reply<J: Json>(v: &J) -> Option<Reply> {
    let tag = v.tag()?;
    let body = v.get(&tag);
    Some(match (tag.as_str(), body) {
        ("pong", _) => Reply::Pong,
        ("done", _) => Reply::Done,
        ("welcome", Some(b)) => Reply::Welcome {
            identity: text(&b, "identity")?,
            endpoint_id: text(&b, "endpointId")?,
            heartbeat_interval_ms: u32_of(&b, "heartbeatIntervalMs")?,
            version: u32_of(&b, "version")?,
            ice_servers: b
                .get("iceServers")
                .map(|s| s.items().iter().filter_map(read_ice_server).collect())
                .unwrap_or_default(),
            resume_secret: text_or_empty(&b, "resumeSecret"),
            resume_window_ms: u32_of(&b, "resumeWindowMs").unwrap_or(0),
            resumed: flag(&b, "resumed"),
            last_request: u32_of(&b, "lastRequest"),
        },
        ("admitted", Some(b)) => Reply::Admitted {
            success_count: u32_of(&b, "successCount")?,
            failure_count: u32_of(&b, "failureCount")?,
        },
        _ => return None,
    })
}

fn read_ice_server<J: Json>(v: &J) -> Option<IceServer> {
    Some(IceServer {
        urls: v
            .get("urls")?
            .items()
            .iter()
            .filter_map(Json::string)
            .collect(),
        username: text(v, "username"),
        credential: text(v, "credential"),
    })
}

fn read_event<J: Json>(v: &J) -> Option<Event<RawJson>> {
    let tag = v.tag()?;
    let b = v.get(&tag)?;
    let call_id = || call_id(&b);
    Some(match tag.as_str() {
        "incomingCall" => Event::IncomingCall {
            call_id: call_id()?,
            caller: text(&b, "caller")?,
            caller_display_name: text_or_empty(&b, "callerDisplayName"),
        },
        "incomingCallEnded" => Event::IncomingCallEnded {
            call_id: call_id()?,
            reason: end_reason(&b.get("reason")?)?,
        },
        "callState" => Event::CallState {
            call_id: call_id()?,
            state: named(text(&b, "state"), CallState::from_name)?,
            end_reason: b.get("endReason").and_then(|r| end_reason(&r)),
            participant_id: participant(&b, "participantId"),
        },
        "participants" => Event::Participants {
            call_id: call_id()?,
            upsert: list(&b, "upsert", read_participant)?,
            removed: list(&b, "removed", |r| {
                Some(RemovedParticipant {
                    participant_id: participant(r, "participantId")?,
                    end_reason: end_reason(&r.get("endReason")?)?,
                })
            })?,
        },
        "speaking" => Event::Speaking {
            call_id: call_id()?,
            participant_id: participant(&b, "participantId")?,
            speaking: flag(&b, "speaking"),
        },
        "dominantSpeakers" => Event::DominantSpeakers {
            call_id: call_id()?,
            ranked: b
                .get("ranked")?
                .items()
                .iter()
                .map(|p| p.number().map(|n| ParticipantId(n as u32)))
                .collect::<Option<_>>()?,
        },
        "dtmfReceived" => Event::DtmfReceived {
            call_id: call_id()?,
            participant_id: participant(&b, "participantId")?,
            tone: text(&b, "tone")?,
        },
        "echoReport" => {
            let r = b.get("report")?;
            let ms = |name| r.get(name).and_then(|n| n.number());
            Event::EchoReport {
                call_id: call_id()?,
                report: EchoReport {
                    phase: text(&r, "phase")?,
                    audio_received: flag(&r, "audioReceived"),
                    video_received: flag(&r, "videoReceived"),
                    round_trip_ms: ms("roundTripMs"),
                    packet_loss_percent: ms("packetLossPercent"),
                    jitter_ms: ms("jitterMs"),
                },
            }
        }
        "role" => Event::Role {
            call_id: call_id()?,
            role: named(text(&b, "role"), Role::from_name)?,
        },
        "mutedByOthers" => Event::MutedByOthers {
            call_id: call_id()?,
        },
        "transferred" => Event::Transferred {
            call_id: call_id()?,
            target_call_id: CallId(text(&b, "targetCallId")?),
            target: text(&b, "target")?,
        },
        "feature" => Event::Feature {
            call_id: call_id()?,
            event: RawJson(b.get("event")?.text()),
        },
        "sdpOffer" => Event::SdpOffer {
            call_id: call_id()?,
            version: u32_of(&b, "version")?,
            sdp: text(&b, "sdp")?,
            media: list(&b, "media", read_media_line)?,
        },
        _ => return None,
    })
}

/// The elements of array `name` (none if absent), each read with `read`; `None` if one fails.
fn list<J: Json, T>(v: &J, name: &str, read: impl Fn(&J) -> Option<T>) -> Option<Vec<T>> {
    v.get(name)
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .map(read)
        .collect()
}

fn read_participant<J: Json>(v: &J) -> Option<ParticipantInfo> {
    Some(ParticipantInfo {
        participant_id: participant(v, "participantId")?,
        identity: text(v, "identity")?,
        display_name: text_or_empty(v, "displayName"),
        state: named(text(v, "state"), ParticipantState::from_name)?,
        muted: flag(v, "muted"),
        speaking: flag(v, "speaking"),
        streams: list(v, "streams", |s| {
            Some(StreamInfo {
                stream_id: StreamId(u32_of(s, "streamId")?),
                kind: named(text(s, "kind"), StreamKind::from_name)?,
                available: flag(s, "available"),
            })
        })?,
        reconnecting: flag(v, "reconnecting"),
        role: named(text(v, "role"), Role::from_name).unwrap_or_default(),
    })
}

fn read_media_line<J: Json>(v: &J) -> Option<MediaLine> {
    let tag = v.tag()?;
    let b = v.get(&tag)?;
    let mid = text(&b, "mid")?;
    Some(match tag.as_str() {
        "sendAudio" => MediaLine::SendAudio { mid },
        "sendVideo" => MediaLine::SendVideo {
            mid,
            source: named(text(&b, "source"), VideoSource::from_name)?,
        },
        "receiveAudio" => MediaLine::ReceiveAudio {
            mid,
            participant_id: participant(&b, "participantId"),
        },
        "receiveVideo" => MediaLine::ReceiveVideo {
            mid,
            participant_id: participant(&b, "participantId")?,
            stream_id: StreamId(u32_of(&b, "streamId")?),
        },
        _ => return None,
    })
}

// ---- writing ----

/// Writes an object's fields as JSON text.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Fields { out, first: true }
    }

    fn name(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        quote(self.out, name);
        self.out.push(':');
        self.out
    }

    fn text(&mut self, name: &str, value: &str) -> &mut Self {
        quote(self.name(name), value);
        self
    }

    fn number(&mut self, name: &str, value: u64) -> &mut Self {
        let out = self.name(name);
        out.push_str(&value.to_string());
        self
    }

    fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.name(name)
            .push_str(if value { "true" } else { "false" });
        self
    }

    fn texts(&mut self, name: &str, values: &[String]) -> &mut Self {
        let out = self.name(name);
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(out, value);
        }
        out.push(']');
        self
    }

    fn object(&mut self, name: &str, write: impl FnOnce(&mut Fields)) -> &mut Self {
        let mut inner = Fields::open(self.name(name));
        write(&mut inner);
        inner.close();
        self
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// `value` as a JSON string.
fn quote(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A client frame as JSON text.
pub fn write_frame(frame: &Outgoing) -> String {
    let mut out = String::with_capacity(128);
    let mut fields = Fields::open(&mut out);
    fields.number("id", frame.id.into());
    match &frame.req {
        Request::Ping => {
            quote(fields.name("req"), "ping");
        }
        request => {
            fields.object("req", |req| write_request(req, request));
        }
    }
    if let Some(ack) = frame.ack {
        fields.number("ack", ack);
    }
    fields.close();
    out
}

fn write_request(req: &mut Fields, request: &Request<RawJson>) {
    let call = |body: &mut Fields, call_id: &CallId| {
        body.text("callId", &call_id.0);
    };
    match request {
        Request::Ping => {}
        Request::Hello {
            token,
            display_name,
            version,
            resume,
        } => {
            req.object("hello", |b| {
                b.text("token", token)
                    .text("displayName", display_name)
                    .number("version", (*version).into());
                if let Some(r) = resume {
                    b.object("resume", |r2| {
                        r2.text("endpointId", &r.endpoint_id)
                            .text("secret", &r.secret)
                            .number("lastSeq", r.last_seq);
                    });
                }
            });
        }
        Request::StartCall {
            call_id,
            targets,
            muted,
            alternate_caller_id,
        } => {
            req.object("startCall", |b| {
                call(b, call_id);
                b.texts("targets", targets).boolean("muted", *muted);
                if let Some(id) = alternate_caller_id {
                    b.text("alternateCallerId", id);
                }
            });
        }
        Request::JoinGroup {
            group_id,
            muted,
            lobby,
        } => {
            req.object("joinGroup", |b| {
                b.text("groupId", group_id).boolean("muted", *muted);
                if *lobby {
                    b.boolean("lobby", true);
                }
            });
        }
        Request::Accept { call_id, muted } => {
            req.object("accept", |b| {
                call(b, call_id);
                b.boolean("muted", *muted);
            });
        }
        Request::Reject { call_id } => {
            req.object("reject", |b| call(b, call_id));
        }
        Request::HangUp {
            call_id,
            for_everyone,
        } => {
            req.object("hangUp", |b| {
                call(b, call_id);
                b.boolean("forEveryone", *for_everyone);
            });
        }
        Request::AddParticipant {
            call_id,
            target,
            alternate_caller_id,
        } => {
            req.object("addParticipant", |b| {
                call(b, call_id);
                b.text("target", target);
                if let Some(id) = alternate_caller_id {
                    b.text("alternateCallerId", id);
                }
            });
        }
        Request::RemoveParticipant { call_id, target } => {
            req.object("removeParticipant", |b| {
                call(b, call_id);
                b.text("target", target);
            });
        }
        Request::MuteOthers { call_id, targets } | Request::AdmitLobby { call_id, targets } => {
            let name = match request {
                Request::MuteOthers { .. } => "muteOthers",
                _ => "admitLobby",
            };
            req.object(name, |b| {
                call(b, call_id);
                if let Some(targets) = targets {
                    b.texts("targets", targets);
                }
            });
        }
        Request::RejectLobby { call_id, target } => {
            req.object("rejectLobby", |b| {
                call(b, call_id);
                b.text("target", target);
            });
        }
        Request::Feature { call_id, request } => {
            req.object("feature", |b| {
                call(b, call_id);
                b.name("request").push_str(&request.0);
            });
        }
        Request::SendDtmf { call_id, tone } => {
            req.object("sendDtmf", |b| {
                call(b, call_id);
                b.text("tone", tone);
            });
        }
        Request::SetMuted { call_id, muted } => {
            req.object("setMuted", |b| {
                call(b, call_id);
                b.boolean("muted", *muted);
            });
        }
        Request::SetHold { call_id, hold } => {
            req.object("setHold", |b| {
                call(b, call_id);
                b.boolean("hold", *hold);
            });
        }
        Request::SetVideo {
            call_id,
            source,
            on,
        } => {
            req.object("setVideo", |b| {
                call(b, call_id);
                b.text("source", source.as_str()).boolean("on", *on);
            });
        }
        Request::Subscribe {
            call_id,
            stream_id,
            max_height,
        } => {
            req.object("subscribe", |b| {
                call(b, call_id);
                b.number("streamId", stream_id.0.into())
                    .number("maxHeight", (*max_height).into());
            });
        }
        Request::Unsubscribe { call_id, stream_id } => {
            req.object("unsubscribe", |b| {
                call(b, call_id);
                b.number("streamId", stream_id.0.into());
            });
        }
        Request::RestartIce { call_id } => {
            req.object("restartIce", |b| call(b, call_id));
        }
        Request::SdpAnswer {
            call_id,
            version,
            sdp,
        } => {
            req.object("sdpAnswer", |b| {
                call(b, call_id);
                b.number("version", (*version).into()).text("sdp", sdp);
            });
        }
    }
}

/// serde_json's values, for the native tests (the engine's and these).
#[cfg(test)]
impl Json for serde_json::Value {
    fn get(&self, name: &str) -> Option<Self> {
        self.as_object()?
            .get(name)
            .filter(|v| !v.is_null())
            .cloned()
    }
    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }
    fn items(&self) -> Vec<Self> {
        self.as_array().cloned().unwrap_or_default()
    }
    fn tag(&self) -> Option<String> {
        match self {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) if o.len() == 1 => o.keys().next().cloned(),
            _ => None,
        }
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests;
