//! RTP packets (RFC 3550 §5.1) as the telephone side sends them: fixed header, no CSRCs or
//! extensions written, both skipped when read.

/// A parsed RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Reads a packet; `None` if it is not RTP version 2 or is cut short.
    pub fn parse(bytes: &'a [u8]) -> Option<RtpPacket<'a>> {
        let header = bytes.get(..12)?;
        if header[0] >> 6 != 2 {
            return None;
        }
        let csrcs = usize::from(header[0] & 0x0f) * 4;
        let mut start = 12 + csrcs;
        if header[0] & 0x10 != 0 {
            let extension = bytes.get(start..start + 4)?;
            start += 4 + usize::from(u16::from_be_bytes([extension[2], extension[3]])) * 4;
        }
        let mut end = bytes.len();
        if header[0] & 0x20 != 0 {
            // Padding: the last byte says how much.
            end = end.checked_sub(usize::from(*bytes.last()?))?;
        }
        Some(RtpPacket {
            payload_type: header[1] & 0x7f,
            marker: header[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([header[2], header[3]]),
            timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
            payload: bytes.get(start..end)?,
        })
    }

    /// Writes the packet into `out` (cleared first).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80);
        out.push(self.payload_type | if self.marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let packet = RtpPacket {
            payload_type: 8,
            marker: true,
            sequence: 65_535,
            timestamp: 0xdead_beef,
            ssrc: 42,
            payload: &[1, 2, 3],
        };
        let mut bytes = Vec::new();
        packet.write(&mut bytes);
        assert_eq!(bytes.len(), 15);
        assert_eq!(RtpPacket::parse(&bytes), Some(packet));
    }

    #[test]
    fn skips_csrcs_extensions_and_padding_and_refuses_garbage() {
        // V=2, P, X, CC=1; PT 0; one CSRC; a one-word extension; 2 payload bytes; 2 of padding.
        let bytes = [
            0xb1, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, /* CSRC */ 0, 0, 0, 9,
            /* extension */ 0xbe, 0xde, 0, 1, 1, 2, 3, 4, /* payload */ 0xaa, 0xbb,
            /* padding */ 0, 2,
        ];
        let packet = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(
            (packet.sequence, packet.timestamp, packet.ssrc),
            (1, 160, 7)
        );
        assert_eq!(packet.payload, &[0xaa, 0xbb]);
        assert_eq!(RtpPacket::parse(&bytes[..11]), None);
        assert_eq!(RtpPacket::parse(&[0x40; 20]), None, "version 1");
        assert_eq!(
            RtpPacket::parse(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]),
            None
        );
    }
}
