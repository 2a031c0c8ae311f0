//! The SDP a telephone call needs (RFC 4566, offer/answer per RFC 3264): one audio stream of
//! G.711 with telephone events, its address and port, its direction.

use crate::g711::Law;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Which way media goes, from the writer's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer takes to this offered one.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}

/// An audio description: offered or answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDescription {
    pub address: IpAddr,
    pub port: u16,
    /// G.711 laws, in the order of preference given.
    pub laws: Vec<Law>,
    /// The payload type of `telephone-event/8000`, if offered.
    pub telephone_event: Option<u8>,
    pub direction: Direction,
}

/// Why an SDP body is of no use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// Not SDP, or no connection address.
    Malformed(&'static str),
    /// No audio stream, or one without PCMU or PCMA.
    NoCommonCodec,
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SdpError::Malformed(what) => write!(f, "malformed SDP: {what}"),
            SdpError::NoCommonCodec => f.write_str("no audio stream with PCMU or PCMA"),
        }
    }
}

impl std::error::Error for SdpError {}

impl AudioDescription {
    /// Reads the first audio stream of an SDP body.
    pub fn parse(body: &[u8]) -> Result<AudioDescription, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::Malformed("not UTF-8"))?;
        if !text.starts_with("v=0") {
            return Err(SdpError::Malformed("no v=0"));
        }
        let (mut session_address, mut media) = (None, None::<AudioDescription>);
        let mut in_audio = false;
        let mut names: Vec<(u8, String)> = Vec::new();
        for line in text.lines().map(str::trim_end) {
            let Some((kind, value)) = line.split_once('=') else {
                continue;
            };
            match kind {
                "m" => {
                    // Only the first audio stream counts; the rest are left alone.
                    if media.is_some() {
                        in_audio = false;
                        continue;
                    }
                    let mut fields = value.split_whitespace();
                    in_audio = fields.next() == Some("audio");
                    if in_audio {
                        let port = fields
                            .next()
                            .and_then(|p| p.split('/').next()?.parse().ok())
                            .ok_or(SdpError::Malformed("bad m= port"))?;
                        let _protocol = fields.next();
                        let formats: Vec<u8> = fields.filter_map(|f| f.parse().ok()).collect();
                        media = Some(AudioDescription {
                            address: session_address.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                            port,
                            laws: formats
                                .iter()
                                .filter_map(|&pt| Law::from_payload_type(pt))
                                .collect(),
                            telephone_event: None,
                            direction: Direction::SendRecv,
                        });
                        names.clear();
                        names.extend(formats.iter().map(|&pt| (pt, String::new())));
                    }
                }
                "c" => {
                    let address = value
                        .split_whitespace()
                        .nth(2)
                        .and_then(|a| a.split('/').next()?.parse().ok())
                        .ok_or(SdpError::Malformed("bad c= address"))?;
                    match media.as_mut().filter(|_| in_audio) {
                        Some(media) => media.address = address,
                        None => session_address = Some(address),
                    }
                }
                "a" if in_audio => {
                    let media = media.as_mut().expect("in an audio stream");
                    if let Some(map) = value.strip_prefix("rtpmap:") {
                        let (pt, name) = map.split_once(' ').unwrap_or((map, ""));
                        if let Ok(pt) = pt.parse::<u8>() {
                            if name.eq_ignore_ascii_case("telephone-event/8000") {
                                media.telephone_event = Some(pt);
                            }
                            if let Some(entry) = names.iter_mut().find(|(p, _)| *p == pt) {
                                entry.1 = name.to_owned();
                            }
                        }
                    }
                    media.direction = match value {
                        "sendrecv" => Direction::SendRecv,
                        "sendonly" => Direction::SendOnly,
                        "recvonly" => Direction::RecvOnly,
                        "inactive" => Direction::Inactive,
                        _ => media.direction,
                    };
                }
                _ => {}
            }
        }
        let media = media.ok_or(SdpError::NoCommonCodec)?;
        if media.address.is_unspecified() && media.port != 0 {
            return Err(SdpError::Malformed("no c= address"));
        }
        if media.laws.is_empty() || media.port == 0 {
            return Err(SdpError::NoCommonCodec);
        }
        Ok(media)
    }

    /// The SDP body. `session` is the o= line's id and `version` its version (raise it
    /// whenever the description changes within a dialog).
    pub fn write(&self, session: u64, version: u64) -> Vec<u8> {
        let ip = match self.address {
            IpAddr::V4(_) => "IP4",
            IpAddr::V6(_) => "IP6",
        };
        let mut sdp = String::new();
        let _ = write!(
            sdp,
            "v=0\r\no=rtcall {session} {version} IN {ip} {address}\r\ns=rtcall\r\nc=IN {ip} {address}\r\nt=0 0\r\nm=audio {port} RTP/AVP",
            address = self.address,
            port = self.port,
        );
        for law in &self.laws {
            let _ = write!(sdp, " {}", law.payload_type());
        }
        if let Some(pt) = self.telephone_event {
            let _ = write!(sdp, " {pt}");
        }
        sdp.push_str("\r\n");
        for law in &self.laws {
            let _ = write!(
                sdp,
                "a=rtpmap:{} {}/8000\r\n",
                law.payload_type(),
                law.name()
            );
        }
        if let Some(pt) = self.telephone_event {
            let _ = write!(
                sdp,
                "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
            );
        }
        let _ = write!(sdp, "a=ptime:20\r\na={}\r\n", self.direction.attribute());
        sdp.into_bytes()
    }

    /// Our answer to this offer: the first offered law we take (both), telephone events if
    /// offered, at our `address` and `port`.
    pub fn answer(&self, address: IpAddr, port: u16) -> AudioDescription {
        AudioDescription {
            address,
            port,
            laws: self.laws.iter().take(1).copied().collect(),
            telephone_event: self.telephone_event,
            direction: self.direction.answer(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 10.9.9.9\r\n\
        m=audio 6000 RTP/AVP 8 0 101\r\nc=IN IP4 127.0.0.2\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\n";

    #[test]
    fn reads_the_audio_stream_of_an_offer() {
        let offer = AudioDescription::parse(OFFER.as_bytes()).unwrap();
        assert_eq!(
            offer,
            AudioDescription {
                address: "127.0.0.2".parse().unwrap(),
                port: 6000,
                laws: vec![Law::Alaw, Law::Ulaw],
                telephone_event: Some(101),
                direction: Direction::SendOnly,
            }
        );
        let answer = offer.answer("127.0.0.1".parse().unwrap(), 7000);
        assert_eq!(answer.laws, vec![Law::Alaw]);
        assert_eq!(answer.direction, Direction::RecvOnly);
        assert_eq!(
            AudioDescription::parse(&answer.write(1, 1)).unwrap(),
            answer
        );
    }

    #[test]
    fn refuses_offers_it_cannot_take() {
        let video_only = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n";
        assert_eq!(
            AudioDescription::parse(video_only.as_bytes()),
            Err(SdpError::NoCommonCodec)
        );
        let opus_only = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 111\r\n";
        assert_eq!(
            AudioDescription::parse(opus_only.as_bytes()),
            Err(SdpError::NoCommonCodec)
        );
        let rejected = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(
            AudioDescription::parse(rejected.as_bytes()),
            Err(SdpError::NoCommonCodec)
        );
        assert!(AudioDescription::parse(b"m=audio 5000 RTP/AVP 0").is_err());
        assert!(AudioDescription::parse(b"v=0\r\nm=audio 5000 RTP/AVP 0\r\n").is_err());
        assert!(AudioDescription::parse(b"v=0\r\nc=IN IP4 nonsense\r\n").is_err());
        assert!(AudioDescription::parse(&[b'v', b'=', b'0', 0xff]).is_err());
    }
}
