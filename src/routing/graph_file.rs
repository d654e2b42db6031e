//! The compact binary graph file `terriens import-roads` writes and `serve` loads.
//!
//! Layout, little-endian: the magic `TERRIENS-ROADS\0\0`, a format version (u32), the profile
//! (u8), the island threshold (u64), the source name (u32 length + UTF-8), the node and segment
//! counts (u64 each), then column arrays — node longitudes and latitudes (i32, 1e-7°), segment
//! tails and heads (u32), weights forward and backward (u32 ms, `u32::MAX` closed), lengths
//! (f32 m), classes (u8) — and last a 64-bit FNV-1a checksum of everything before it.
//! Adjacency, islands and the snap index are rebuilt at load (linear time), which keeps the
//! file small and its format simple. Files are written atomically (temporary file, fsync,
//! rename).

use std::io::Write;
use std::path::Path;

use super::error::{GraphFileError, RoutingError};
use super::graph::{RoadGraph, Segment};
use super::profile::{ProfileId, RoadClass};
use crate::model::hash::fnv1a;

const MAGIC: &[u8; 16] = b"TERRIENS-ROADS\0\0";
const VERSION: u32 = 1;

/// The file's bytes.
pub fn encode_graph(g: &RoadGraph) -> Vec<u8> {
    let n = g.node_count();
    let m = g.segment_count();
    let mut out = Vec::with_capacity(64 + g.source.len() + n * 8 + m * 21 + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(g.profile.to_u8());
    out.extend_from_slice(&(g.island_max_nodes as u64).to_le_bytes());
    out.extend_from_slice(&(g.source.len() as u32).to_le_bytes());
    out.extend_from_slice(g.source.as_bytes());
    out.extend_from_slice(&(n as u64).to_le_bytes());
    out.extend_from_slice(&(m as u64).to_le_bytes());
    g.lon_e7
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    g.lat_e7
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    let segs = &g.segments;
    segs.iter()
        .for_each(|s| out.extend_from_slice(&s.nodes[0].to_le_bytes()));
    segs.iter()
        .for_each(|s| out.extend_from_slice(&s.nodes[1].to_le_bytes()));
    segs.iter()
        .for_each(|s| out.extend_from_slice(&s.weight_ms[0].to_le_bytes()));
    segs.iter()
        .for_each(|s| out.extend_from_slice(&s.weight_ms[1].to_le_bytes()));
    segs.iter()
        .for_each(|s| out.extend_from_slice(&s.length_m.to_le_bytes()));
    segs.iter().for_each(|s| out.push(s.class as u8));
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Writes a graph file atomically.
pub fn write_graph(g: &RoadGraph, path: &Path) -> Result<(), RoutingError> {
    let bytes = encode_graph(g);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "roads.graph".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).map_err(RoutingError::io("cannot create", &tmp))?;
        f.write_all(&bytes)
            .map_err(RoutingError::io("cannot write", &tmp))?;
        f.sync_all()
            .map_err(RoutingError::io("cannot fsync", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(RoutingError::io("cannot rename into", path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Makes the rename durable; not every platform can fsync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a graph file.
pub fn read_graph(path: &Path) -> Result<RoadGraph, RoutingError> {
    let bytes = std::fs::read(path).map_err(RoutingError::io("cannot read", path))?;
    decode_graph(&bytes).map_err(|reason| RoutingError::CorruptGraph {
        path: path.to_path_buf(),
        reason,
    })
}

/// Decodes a graph file's bytes: check the header and checksum, read the header fields, then
/// the column arrays, and assemble the graph.
pub fn decode_graph(bytes: &[u8]) -> Result<RoadGraph, GraphFileError> {
    let mut r = Reader {
        bytes: checked_body(bytes)?,
        pos: MAGIC.len(),
    };
    let header = Header::read(&mut r)?;
    let segments = read_segments(&mut r, &header)?;
    Ok(RoadGraph::from_parts(
        header.profile,
        header.source,
        header.island_max_nodes,
        header.lon_e7,
        header.lat_e7,
        segments,
    )?)
}

/// The bytes before the checksum, once the magic and the checksum are found right.
fn checked_body(bytes: &[u8]) -> Result<&[u8], GraphFileError> {
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(GraphFileError::NoHeader);
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut r = Reader { bytes: sum, pos: 0 };
    if fnv1a(body) != r.u64()? {
        return Err(GraphFileError::Checksum);
    }
    Ok(body)
}

/// The fields before the segment columns, node positions included.
struct Header {
    profile: ProfileId,
    island_max_nodes: usize,
    source: String,
    segment_count: usize,
    lon_e7: Vec<i32>,
    lat_e7: Vec<i32>,
}

impl Header {
    /// Reads the version, profile, island threshold, source name, counts and node columns.
    fn read(r: &mut Reader<'_>) -> Result<Header, GraphFileError> {
        let version = r.u32()?;
        if version != VERSION {
            return Err(GraphFileError::Version {
                found: version,
                reads: VERSION,
            });
        }
        let profile = ProfileId::from_u8(r.u8()?).ok_or(GraphFileError::UnknownProfile)?;
        let island_max_nodes = r.u64()? as usize;
        let source_len = r.u32()? as usize;
        let source = String::from_utf8(r.take(source_len)?.to_vec())?;
        let n = usize::try_from(r.u64()?)?;
        let m = usize::try_from(r.u64()?)?;
        if n.saturating_mul(8).saturating_add(m.saturating_mul(21)) > r.bytes.len() {
            return Err(GraphFileError::CountsExceedFile {
                nodes: n,
                segments: m,
            });
        }
        let lon_e7 = r.column(n, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
        let lat_e7 = r.column(n, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
        Ok(Header {
            profile,
            island_max_nodes,
            source,
            segment_count: m,
            lon_e7,
            lat_e7,
        })
    }
}

/// Reads the segment columns (tails, heads, weights both ways, lengths, classes), which end
/// the body, then makes the segments.
fn read_segments(r: &mut Reader<'_>, header: &Header) -> Result<Vec<Segment>, GraphFileError> {
    let m = header.segment_count;
    let u32s = |r: &mut Reader<'_>| r.column(m, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let tails = u32s(r)?;
    let heads = u32s(r)?;
    let w_ab = u32s(r)?;
    let w_ba = u32s(r)?;
    let lens = r.column(m, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
    let classes = r.take(m)?;
    if r.pos != r.bytes.len() {
        return Err(GraphFileError::TrailingBytes(r.bytes.len() - r.pos));
    }
    (0..m)
        .map(|i| {
            let class = RoadClass::from_u8(classes[i]).ok_or(GraphFileError::UnknownClass {
                segment: i,
                class: classes[i],
            })?;
            Ok(Segment {
                nodes: [tails[i], heads[i]],
                weight_ms: [w_ab[i], w_ba[i]],
                length_m: lens[i],
                class,
            })
        })
        .collect()
}

/// Reads little-endian values from a byte slice, failing (not panicking) past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], GraphFileError> {
        let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(GraphFileError::Truncated(self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, GraphFileError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, GraphFileError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, GraphFileError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn column<T>(
        &mut self,
        count: usize,
        f: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, GraphFileError> {
        let b = self.take(count.checked_mul(4).ok_or(GraphFileError::CountOverflow)?)?;
        Ok(b.chunks_exact(4).map(f).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::graph::BuildOptions;
    use crate::routing::network::RawNetwork;
    use crate::routing::profile::{Oneway, WayAttrs};

    fn graph() -> RoadGraph {
        let mut net = RawNetwork::new("round-trip.osm");
        let a = net.push_node(1.0, 49.0);
        let b = net.push_node(1.001, 49.0);
        let c = net.push_node(1.002, 49.001);
        let mut ow = WayAttrs::new(RoadClass::Secondary);
        ow.oneway = Oneway::Backward;
        net.push_way(vec![a, b, c], ow);
        net.push_way(vec![c, a], WayAttrs::new(RoadClass::Residential));
        RoadGraph::build(&net, ProfileId::Hgv, &BuildOptions::default()).unwrap()
    }

    #[test]
    fn round_trip() {
        let g = graph();
        let bytes = encode_graph(&g);
        let back = decode_graph(&bytes).unwrap();
        assert_eq!(back.profile(), ProfileId::Hgv);
        assert_eq!(back.source(), "round-trip.osm");
        assert_eq!(back.segments(), g.segments());
        assert_eq!(
            back.edge_list().collect::<Vec<_>>(),
            g.edge_list().collect::<Vec<_>>()
        );
        assert_eq!(
            (0..3).map(|v| back.lonlat(v)).collect::<Vec<_>>(),
            (0..3).map(|v| g.lonlat(v)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn damage_is_detected_not_panicked_on() {
        let bytes = encode_graph(&graph());
        for cut in [0, 10, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode_graph(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        let i = flipped.len() / 2;
        flipped[i] ^= 0x40;
        let err = decode_graph(&flipped).unwrap_err();
        assert_eq!(err, GraphFileError::Checksum);
        assert!(err.to_string().contains("checksum"), "{err}");
    }
}
