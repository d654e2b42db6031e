//! Content encodings of tiles: choosing one from `Accept-Encoding`, and compressing.

use std::io::Write;

/// A content encoding of a tile body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` token (`None` for identity).
    pub fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// Short tag for ETags.
    pub fn tag(self) -> &'static str {
        match self {
            Encoding::Identity => "id",
            Encoding::Gzip => "gz",
            Encoding::Brotli => "br",
        }
    }
}

/// The best encoding an `Accept-Encoding` header allows: brotli, then gzip, then identity;
/// `q=0` refuses a coding, `*` stands for the codings not named.
///
/// ```
/// use terriens::tiles::{negotiate, Encoding};
/// assert_eq!(negotiate("gzip, deflate, br"), Encoding::Brotli);
/// assert_eq!(negotiate("gzip;q=1.0, br;q=0"), Encoding::Gzip);
/// assert_eq!(negotiate(""), Encoding::Identity);
/// ```
pub fn negotiate(accept: &str) -> Encoding {
    let mut br: Option<f32> = None;
    let mut gz: Option<f32> = None;
    let mut star: Option<f32> = None;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in it {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gz = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gz = gz.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gz {
        Encoding::Brotli
    } else if gz > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Compresses a body. Brotli at quality 5 and gzip at level 6: a cold z6 tile of 500 KB must
/// not wait seconds for quality 11.
pub fn compress(bytes: &[u8], enc: Encoding) -> std::io::Result<Vec<u8>> {
    match enc {
        Encoding::Identity => Ok(bytes.to_vec()),
        Encoding::Gzip => gzip(bytes),
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(bytes.len() / 3 + 64);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(bytes)?;
                w.flush()?;
            }
            Ok(out)
        }
    }
}

/// Gzip (RFC 1952) at level 6.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        flate2::Compression::new(6),
    );
    e.write_all(bytes)?;
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let gz = compress(&data, Encoding::Gzip).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let br = compress(&data, Encoding::Brotli).unwrap();
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(br.len() < data.len() / 4);
    }

    #[test]
    fn negotiation_honours_q_and_star() {
        assert_eq!(negotiate("*"), Encoding::Brotli);
        assert_eq!(negotiate("*;q=0, gzip"), Encoding::Gzip);
        assert_eq!(negotiate("identity"), Encoding::Identity);
        assert_eq!(negotiate("br;q=0.5, gzip;q=0.9"), Encoding::Gzip);
    }
}
