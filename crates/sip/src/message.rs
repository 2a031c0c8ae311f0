//! SIP messages (RFC 3261 §7): parsing from a datagram and writing back out. Parsing is strict
//! where a mistake would misroute (start line, Content-Length) and lenient where peers differ
//! (header-name case, compact forms, folded lines); every failure is a [`ParseError`], never a
//! panic, since the bytes come from the network.

use std::fmt::{self, Write as _};

/// The largest message accepted (a UDP datagram's payload can be no larger).
pub const MAX_MESSAGE: usize = 65_507;
/// More headers than this is not a telephone call but an attack.
const MAX_HEADERS: usize = 128;

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Bigger than [`MAX_MESSAGE`].
    TooLarge,
    /// Not UTF-8 where text is required, or no blank line ending the headers.
    Malformed(&'static str),
    /// A header a SIP message must have is missing or unreadable.
    MissingHeader(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLarge => f.write_str("message too large"),
            ParseError::Malformed(what) => write!(f, "malformed message: {what}"),
            ParseError::MissingHeader(name) => write!(f, "missing or bad header: {name}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A request's method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    /// Any other (answered 405 by the user agent).
    Other(String),
}

impl Method {
    fn parse(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method's token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Other(token) => token,
        }
    }
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: Method, uri: String },
    Response { code: u16, reason: String },
}

/// A request or response: start line, headers in order, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    /// Names in their long, canonical form (`v` → `Via`), values trimmed.
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Compact header names (RFC 3261 §7.3.3 and extensions) and the canonical spelling of the
/// long ones this crate reads.
fn canonical_name(name: &str) -> String {
    let long = match name.to_ascii_lowercase().as_str() {
        "i" | "call-id" => "Call-ID",
        "m" | "contact" => "Contact",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "f" | "from" => "From",
        "t" | "to" => "To",
        "v" | "via" => "Via",
        "k" | "supported" => "Supported",
        "cseq" => "CSeq",
        "max-forwards" => "Max-Forwards",
        "record-route" => "Record-Route",
        "route" => "Route",
        "www-authenticate" => "WWW-Authenticate",
        "proxy-authenticate" => "Proxy-Authenticate",
        "authorization" => "Authorization",
        "proxy-authorization" => "Proxy-Authorization",
        "reason" => "Reason",
        _ => return name.to_owned(),
    };
    long.to_owned()
}

impl Message {
    /// A request with no headers yet.
    pub fn request(method: Method, uri: impl Into<String>) -> Message {
        Message {
            start: StartLine::Request {
                method,
                uri: uri.into(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `request`: its Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6.2),
    /// with `to_tag` added to To if it has none.
    pub fn response_to(
        request: &Message,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Message {
        let mut response = Message {
            start: StartLine::Response {
                code,
                reason: reason.to_owned(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        };
        for (name, value) in &request.headers {
            match name.as_str() {
                "Via" | "From" | "Call-ID" | "CSeq" | "Record-Route" => {
                    response.headers.push((name.clone(), value.clone()))
                }
                "To" => {
                    let value = match to_tag {
                        Some(tag) if param(value, "tag").is_none() => format!("{value};tag={tag}"),
                        _ => value.clone(),
                    };
                    response.headers.push((name.clone(), value));
                }
                _ => {}
            }
        }
        response
    }

    /// Parses one message from a datagram, or a frame [`frame_length`] cut from a stream.
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        // CRLFs before the start line are ignored (RFC 3261 §7.5): stream keep-alives.
        let start = bytes
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let bytes = &bytes[start..];
        let end = find(bytes, b"\r\n\r\n").ok_or(ParseError::Malformed("no end of headers"))?;
        let head = std::str::from_utf8(&bytes[..end])
            .map_err(|_| ParseError::Malformed("headers are not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let start = parse_start_line(first)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // A folded continuation of the previous header (obsolete, still legal).
                let (_, value) = headers
                    .last_mut()
                    .ok_or(ParseError::Malformed("continuation before any header"))?;
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(ParseError::Malformed("header without a colon"))?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ParseError::Malformed("bad header name"));
            }
            if headers.len() == MAX_HEADERS {
                return Err(ParseError::Malformed("too many headers"));
            }
            headers.push((canonical_name(name), value.trim().to_owned()));
        }
        let rest = &bytes[end + 4..];
        let message = Message {
            start,
            headers,
            body: Vec::new(),
        };
        let body = match message.header("Content-Length") {
            Some(length) => {
                let length: usize = length
                    .parse()
                    .map_err(|_| ParseError::MissingHeader("Content-Length"))?;
                rest.get(..length)
                    .ok_or(ParseError::Malformed("body shorter than Content-Length"))?
            }
            // Over UDP the body is the rest of the datagram (RFC 3261 §18.3).
            None => rest,
        };
        for required in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if message.header(required).is_none() {
                return Err(ParseError::MissingHeader(required));
            }
        }
        let message = Message {
            body: body.to_vec(),
            ..message
        };
        message.cseq().ok_or(ParseError::MissingHeader("CSeq"))?;
        Ok(message)
    }

    /// The message as bytes, with Content-Length set from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = String::new();
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(text, "{} {uri} SIP/2.0\r\n", method.as_str());
            }
            StartLine::Response { code, reason } => {
                let _ = write!(text, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        for (name, value) in &self.headers {
            if name != "Content-Length" {
                let _ = write!(text, "{name}: {value}\r\n");
            }
        }
        let _ = write!(text, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The first value of a header (by its long name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).next()
    }

    /// Every value of a header, in order; comma-separated values of Via, Route and
    /// Record-Route are split (they may be written either way).
    pub fn headers<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = canonical_name(name);
        let list = matches!(name.as_str(), "Via" | "Route" | "Record-Route");
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .flat_map(move |(_, value)| split_list(value, list))
    }

    /// Adds a header at the end.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.headers.push((canonical_name(name), value.into()));
        self
    }

    /// Sets a header: the first of that name takes `value` where it stands, or it is added.
    pub fn replace(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let name = canonical_name(name);
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, old)) => *old = value.into(),
            None => self.headers.push((name, value.into())),
        }
        self
    }

    /// Removes every value of a header.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Sets the body and its type.
    pub fn set_body(&mut self, content_type: &str, body: Vec<u8>) -> &mut Self {
        self.remove("Content-Type")
            .push("Content-Type", content_type);
        self.body = body;
        self
    }

    /// The method of a request, or of the request a response answers (from CSeq).
    pub fn method(&self) -> Option<Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method.clone()),
            StartLine::Response { .. } => self.cseq().map(|(_, m)| m),
        }
    }

    /// The response code, for responses.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// CSeq's number and method.
    pub fn cseq(&self) -> Option<(u32, Method)> {
        let (number, method) = self.header("CSeq")?.split_once(char::is_whitespace)?;
        Some((number.trim().parse().ok()?, Method::parse(method.trim())))
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// The top Via's branch parameter (the transaction id).
    pub fn branch(&self) -> Option<&str> {
        param(self.header("Via")?, "branch")
    }

    /// From's tag.
    pub fn from_tag(&self) -> Option<&str> {
        param(self.header("From")?, "tag")
    }

    /// To's tag.
    pub fn to_tag(&self) -> Option<&str> {
        param(self.header("To")?, "tag")
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(status) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = status.split_once(' ').unwrap_or((status, ""));
        let code: u16 = code
            .parse()
            .map_err(|_| ParseError::Malformed("bad status code"))?;
        if !(100..700).contains(&code) {
            return Err(ParseError::Malformed("status code out of range"));
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_owned(),
        });
    }
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(uri), Some("SIP/2.0"), None)
            if !method.is_empty()
                && method.bytes().all(|b| b.is_ascii_uppercase())
                && !uri.is_empty() =>
        {
            Ok(StartLine::Request {
                method: Method::parse(method),
                uri: uri.to_owned(),
            })
        }
        _ => Err(ParseError::Malformed("bad start line")),
    }
}

/// The length of the first message in a stream's buffer (TCP), CRLF keep-alives before it
/// included; `None` until all of it arrived. Streams must say Content-Length (RFC 3261 §18.3).
pub fn frame_length(buffer: &[u8]) -> Result<Option<usize>, ParseError> {
    let start = buffer
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let Some(end) = find(&buffer[start..], b"\r\n\r\n") else {
        return match buffer.len() > MAX_MESSAGE {
            true => Err(ParseError::TooLarge),
            false => Ok(None),
        };
    };
    let head = std::str::from_utf8(&buffer[start..start + end])
        .map_err(|_| ParseError::Malformed("headers are not UTF-8"))?;
    let length = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| canonical_name(name.trim()) == "Content-Length")
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or(ParseError::MissingHeader("Content-Length"))?;
    let total = start + end + 4 + length;
    if total > MAX_MESSAGE {
        return Err(ParseError::TooLarge);
    }
    Ok((buffer.len() >= total).then_some(total))
}

/// Splits a header value on commas outside quotes and angle brackets, when it is a list.
fn split_list(value: &str, list: bool) -> Vec<&str> {
    if !list {
        return vec![value];
    }
    let (mut parts, mut start, mut quoted, mut angled) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            ',' if !quoted && !angled => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// A `;name=value` parameter of a header value (outside its `<…>` URI, if any).
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after_uri = match value.find('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    after_uri.split(';').skip(1).find_map(|p| {
        let (key, val) = p.split_once('=').unwrap_or((p, ""));
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"'))
    })
}

/// The URI of a name-addr (`"Bob" <sip:bob@host>;tag=1` → `sip:bob@host`) or addr-spec.
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The user part of a SIP URI (`sip:+14255550123@host;user=phone` → `+14255550123`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';']).next()?;
    (!user.is_empty()).then_some(user)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+14255550123@trunk.example.com SIP/2.0\r\n\
        v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds , SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKold\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:+14255550123@trunk.example.com>\r\n\
        f: \"Alice, A.\" <sip:+14255550100@rtcall.example.com>;tag=1928301774\r\n\
        i: a84b4c76e66710@pc33.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Subject: folded\r\n  across lines\r\n\
        c: application/sdp\r\n\
        l: 4\r\n\r\nv=0\r\nextra";

    #[test]
    fn parses_compact_folded_and_listed_headers() {
        let m = Message::parse(INVITE.as_bytes()).unwrap();
        assert_eq!(
            m.start,
            StartLine::Request {
                method: Method::Invite,
                uri: "sip:+14255550123@trunk.example.com".into()
            }
        );
        assert_eq!(m.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.headers("Via").count(), 2);
        assert_eq!(m.from_tag(), Some("1928301774"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33.example.com"));
        assert_eq!(m.cseq(), Some((314159, Method::Invite)));
        assert_eq!(m.header("subject"), Some("folded across lines"));
        assert_eq!(m.body, b"v=0\r");
        assert_eq!(
            uri_user(uri_of(m.header("From").unwrap())),
            Some("+14255550100")
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let m = Message::parse(INVITE.as_bytes()).unwrap();
        let again = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn a_response_copies_the_transaction_headers_and_adds_a_to_tag() {
        let invite = Message::parse(INVITE.as_bytes()).unwrap();
        let busy = Message::response_to(&invite, 486, "Busy Here", Some("xyz"));
        let parsed = Message::parse(&busy.to_bytes()).unwrap();
        assert_eq!(parsed.code(), Some(486));
        assert_eq!(parsed.method(), Some(Method::Invite));
        assert_eq!(parsed.to_tag(), Some("xyz"));
        assert_eq!(parsed.headers("Via").count(), 2);
        assert_eq!(parsed.branch(), invite.branch());
    }

    #[test]
    fn rejects_malformed_input_without_panicking() {
        let cases: &[&[u8]] = &[
            b"",
            b"INVITE sip:x SIP/2.0\r\n",
            b"INVITE sip:x SIP/3.0\r\n\r\n",
            b"SIP/2.0 99 Odd\r\nVia: x\r\n\r\n",
            b"SIP/2.0 abc Odd\r\n\r\n",
            b"INVITE  SIP/2.0\r\n\r\n",
            b"BYE sip:x SIP/2.0\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\n\r\n",
            b"BYE sip:x SIP/2.0\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: x BYE\r\n\r\n",
            b"BYE sip:x SIP/2.0\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 BYE\r\nContent-Length: 10\r\n\r\nshort",
            b"BYE sip:x SIP/2.0\r\n continuation\r\n\r\n",
            b"BYE sip:x SIP/2.0\r\nno colon here\r\n\r\n",
            b"\xff\xfe SIP/2.0\r\n\r\n",
        ];
        for case in cases {
            assert!(
                Message::parse(case).is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        let mut many = b"BYE sip:x SIP/2.0\r\n".to_vec();
        for i in 0..200 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            Message::parse(&many),
            Err(ParseError::Malformed("too many headers"))
        );
        assert_eq!(
            Message::parse(&vec![b'a'; MAX_MESSAGE + 1]),
            Err(ParseError::TooLarge)
        );
        // Every prefix of a good message parses or fails cleanly.
        for end in 0..INVITE.len() {
            let _ = Message::parse(&INVITE.as_bytes()[..end]);
        }
    }

    #[test]
    fn a_stream_is_cut_into_messages_by_content_length() {
        let one = Message::parse(INVITE.as_bytes()).unwrap().to_bytes();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(&one);
        stream.extend_from_slice(&one);
        let first = frame_length(&stream).unwrap().unwrap();
        assert_eq!(
            first,
            4 + one.len(),
            "keep-alive CRLFs go with the next message"
        );
        assert_eq!(Message::parse(&stream[..first]).unwrap().body, b"v=0\r");
        assert_eq!(frame_length(&stream[first..]).unwrap(), Some(one.len()));
        // Not all there yet.
        assert_eq!(frame_length(&one[..one.len() - 1]).unwrap(), None);
        assert_eq!(frame_length(&one[..20]).unwrap(), None);
        // A stream without Content-Length cannot be cut.
        assert_eq!(
            frame_length(b"BYE sip:x SIP/2.0\r\nVia: a\r\n\r\n"),
            Err(ParseError::MissingHeader("Content-Length"))
        );
        assert_eq!(
            frame_length(&vec![b'a'; MAX_MESSAGE + 1]),
            Err(ParseError::TooLarge)
        );
    }

    #[test]
    fn reads_parameters_outside_the_uri() {
        let to = "<sip:bob@host;transport=udp;tag=inuri>;tag=outside";
        assert_eq!(param(to, "tag"), Some("outside"));
        assert_eq!(param("sip:bob@host;tag=plain", "tag"), Some("plain"));
        assert_eq!(uri_of("sip:bob@host;tag=plain"), "sip:bob@host");
        assert_eq!(uri_user("tel:+1555"), Some("+1555"));
        assert_eq!(uri_user("sip:@host"), None);
    }
}
