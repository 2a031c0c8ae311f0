//! Telephone keys as RTP events (RFC 4733 §2.3, the successor of RFC 2833): the names ACS uses
//! (`Num0`…`Num9`, `Star`, `Pound`, `A`…`D`, `Flash`), their event codes, and the 4-byte payload.

/// ACS's tone names, in event-code order (0–16).
const TONES: [&str; 17] = [
    "Num0", "Num1", "Num2", "Num3", "Num4", "Num5", "Num6", "Num7", "Num8", "Num9", "Star",
    "Pound", "A", "B", "C", "D", "Flash",
];

/// A tone's event code, from its ACS name.
pub fn event_code(tone: &str) -> Option<u8> {
    TONES.iter().position(|&t| t == tone).map(|i| i as u8)
}

/// A tone's ACS name, from its event code.
pub fn tone_name(code: u8) -> Option<&'static str> {
    TONES.get(usize::from(code)).copied()
}

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// The event code (0–16 for keys).
    pub code: u8,
    /// The last packets of an event say so.
    pub end: bool,
    /// Power level, in -dBm0 (0–63; 10 is typical).
    pub volume: u8,
    /// Duration so far, in RTP clock units.
    pub duration: u16,
}

impl DtmfEvent {
    /// Reads a payload; `None` if it is not 4 bytes.
    pub fn parse(payload: &[u8]) -> Option<DtmfEvent> {
        let [code, flags, high, low] = payload.try_into().ok()?;
        Some(DtmfEvent {
            code,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([high, low]),
        })
    }

    /// The payload.
    pub fn to_bytes(self) -> [u8; 4] {
        let [high, low] = self.duration.to_be_bytes();
        let flags = (self.volume & 0x3f) | if self.end { 0x80 } else { 0 };
        [self.code, flags, high, low]
    }

    /// The packets that send a key for `duration` clock units, one per `step` units: all with
    /// the event's start timestamp, the duration growing; the last sent three times with the
    /// end bit, as RFC 4733 §2.5.1.4 asks (packets get lost).
    pub fn key_press(code: u8, duration: u16, step: u16) -> Vec<DtmfEvent> {
        let event = |duration, end| DtmfEvent {
            code,
            end,
            volume: 10,
            duration,
        };
        let mut events: Vec<DtmfEvent> = (1..)
            .map(|n| step.saturating_mul(n))
            .take_while(|&d| d < duration)
            .map(|d| event(d, false))
            .collect();
        events.extend([event(duration, true); 3]);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_match_rfc_4733() {
        assert_eq!(event_code("Num0"), Some(0));
        assert_eq!(event_code("Num9"), Some(9));
        assert_eq!(event_code("Star"), Some(10));
        assert_eq!(event_code("Pound"), Some(11));
        assert_eq!(event_code("D"), Some(15));
        assert_eq!(event_code("Flash"), Some(16));
        assert_eq!(event_code("Hash"), None);
        assert_eq!(tone_name(11), Some("Pound"));
        assert_eq!(tone_name(17), None);
    }

    #[test]
    fn payload_round_trips_and_matches_the_rfc_layout() {
        let event = DtmfEvent {
            code: 5,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(event.to_bytes(), [5, 0x8a, 0x03, 0x20]);
        assert_eq!(DtmfEvent::parse(&event.to_bytes()), Some(event));
        assert_eq!(DtmfEvent::parse(&[1, 2, 3]), None);
    }

    #[test]
    fn a_key_press_grows_then_ends_three_times() {
        // 100 ms at 8 kHz, a packet every 20 ms.
        let events = DtmfEvent::key_press(1, 800, 160);
        let durations: Vec<_> = events.iter().map(|e| (e.duration, e.end)).collect();
        assert_eq!(
            durations,
            [
                (160, false),
                (320, false),
                (480, false),
                (640, false),
                (800, true),
                (800, true),
                (800, true)
            ]
        );
    }
}
