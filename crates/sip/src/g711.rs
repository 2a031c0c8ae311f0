//! G.711 (ITU-T, 1972): μ-law (PCMU, payload type 0) and A-law (PCMA, 8), the telephone
//! network's 8-bit logarithmic codecs. Each byte is a sign, a 3-bit segment (the exponent) and
//! a 4-bit step within it; encoding picks the segment from the sample's magnitude.

/// μ-law's bias: added before finding the segment so that segment 0 has the same step size
/// as segment 1.
const ULAW_BIAS: i32 = 0x84;
/// The largest magnitude μ-law represents (the rest clips).
const ULAW_CLIP: i32 = 32_635;

/// One 16-bit sample to μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let sample = i32::from(sample);
    let sign = if sample < 0 { 0x80 } else { 0 };
    let magnitude = sample.unsigned_abs().min(ULAW_CLIP as u32) as i32 + ULAW_BIAS;
    // The segment is how far the magnitude's top bit sits above bit 7.
    let segment = (31 - magnitude.leading_zeros() as i32) - 7;
    let step = (magnitude >> (segment + 3)) & 0x0f;
    // Bits are sent inverted (long runs of zeros were bad for old transmission lines).
    !(sign | (segment << 4) | step) as u8
}

/// One μ-law byte to a 16-bit sample.
pub fn ulaw_decode(code: u8) -> i16 {
    let code = !code;
    let segment = i32::from((code >> 4) & 0x07);
    let step = i32::from(code & 0x0f);
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// One 16-bit sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13 bits; negative values are coded from their one's complement.
    let sample = i32::from(sample) >> 3;
    let (magnitude, mask) = if sample >= 0 {
        (sample, 0xd5)
    } else {
        (-sample - 1, 0x55)
    };
    let code = match magnitude {
        m if m < 0x20 => m >> 1,
        m if m >= 0x1000 => 0x7f,
        m => {
            // Segments 1 to 7 each double the previous one's range.
            let segment = (31 - m.leading_zeros() as i32) - 4;
            (segment << 4) | ((m >> segment) & 0x0f)
        }
    };
    (code ^ mask) as u8
}

/// One A-law byte to a 16-bit sample.
pub fn alaw_decode(code: u8) -> i16 {
    let code = code ^ 0x55;
    let step = i32::from(code & 0x0f) << 4;
    let magnitude = match (code & 0x70) >> 4 {
        0 => step + 8,
        segment => (step + 0x108) << (segment - 1),
    };
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// The two G.711 laws, by RTP payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law, payload type 0.
    Ulaw,
    /// A-law, payload type 8.
    Alaw,
}

impl Law {
    /// The law of a static payload type.
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// Its static payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// Its SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// Encodes samples, appending to `out`.
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        let encode = match self {
            Law::Ulaw => ulaw_encode,
            Law::Alaw => alaw_encode,
        };
        out.extend(samples.iter().map(|&s| encode(s)));
    }

    /// Decodes bytes, appending to `out`.
    pub fn decode(self, codes: &[u8], out: &mut Vec<i16>) {
        let decode = match self {
            Law::Ulaw => ulaw_decode,
            Law::Alaw => alaw_decode,
        };
        out.extend(codes.iter().map(|&c| decode(c)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of the decoding tables in ITU-T G.711 (and every reference implementation
    /// since): code → value.
    const ULAW_TABLE: &[(u8, i16)] = &[
        (0x00, -32124),
        (0x01, -31100),
        (0x0f, -16764),
        (0x10, -15996),
        (0x70, -120),
        (0x7e, -8),
        (0x7f, 0),
        (0x80, 32124),
        (0xef, 132),
        (0xfe, 8),
        (0xff, 0),
    ];
    const ALAW_TABLE: &[(u8, i16)] = &[
        (0x00, -5504),
        (0x01, -5248),
        (0x2a, -32256),
        (0x55, -8),
        (0x54, -24),
        (0x80, 5504),
        (0xaa, 32256),
        (0xd5, 8),
        (0xd4, 24),
    ];

    #[test]
    fn decodes_the_reference_table_entries() {
        for &(code, value) in ULAW_TABLE {
            assert_eq!(ulaw_decode(code), value, "μ-law {code:#04x}");
        }
        for &(code, value) in ALAW_TABLE {
            assert_eq!(alaw_decode(code), value, "A-law {code:#04x}");
        }
    }

    #[test]
    fn every_code_survives_decoding_and_encoding() {
        for code in 0..=255u8 {
            // μ-law has two zeros (0x7f is "negative zero"); they encode back as 0xff.
            let expected = if code == 0x7f { 0xff } else { code };
            assert_eq!(
                ulaw_encode(ulaw_decode(code)),
                expected,
                "μ-law {code:#04x}"
            );
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn encoding_rounds_to_the_nearest_level_and_is_monotonic() {
        let mut previous = (i16::MIN, i16::MIN);
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let levels = (
                ulaw_decode(ulaw_encode(sample)),
                alaw_decode(alaw_encode(sample)),
            );
            assert!(
                levels.0 >= previous.0 && levels.1 >= previous.1,
                "at {sample}"
            );
            previous = levels;
            // The error is within half of the coarsest step (1024 in both laws, plus A-law's 3 dropped bits)
            // away from clipping.
            if sample.unsigned_abs() < 32_000 {
                assert!(
                    (i32::from(levels.0) - i32::from(sample)).abs() <= 520,
                    "μ-law at {sample}"
                );
                assert!(
                    (i32::from(levels.1) - i32::from(sample)).abs() <= 520,
                    "A-law at {sample}"
                );
            }
        }
    }

    #[test]
    fn a_tone_keeps_telephone_quality() {
        // 1 kHz at -10 dBFS: G.711's signal-to-quantization noise is about 38 dB.
        let tone: Vec<i16> = (0..8000)
            .map(|i| (10_362.0 * (i as f64 * 2.0 * std::f64::consts::PI / 8.0).sin()) as i16)
            .collect();
        for law in [Law::Ulaw, Law::Alaw] {
            let (mut coded, mut decoded) = (Vec::new(), Vec::new());
            law.encode(&tone, &mut coded);
            law.decode(&coded, &mut decoded);
            let signal: f64 = tone.iter().map(|&s| f64::from(s).powi(2)).sum();
            let noise: f64 = tone
                .iter()
                .zip(&decoded)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            let snr = 10.0 * (signal / noise).log10();
            assert!(snr > 35.0, "{law:?}: {snr:.1} dB");
        }
    }
}
