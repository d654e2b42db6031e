//! Feature snaps persisted beside the layer files: `DIR/derived/snaps-<profile>-<layer>.bin`,
//! so that a restart loads them with a bulk byte copy instead of snapping every feature again.
//!
//! A file is bound to exactly the data it was derived from, and trusted only when every part of
//! its header matches what is loaded now:
//! - a format version and the profile and layer it is for;
//! - the road graph's identity: its file's length and modification time, node and segment
//!   counts and the snapping limit;
//! - the layer's content: row count and a 64-bit fingerprint of every row's id, version and
//!   geometry coordinates, whatever the row order (the rows' snaps are stored with their
//!   feature ids and put back by id: a compaction saves a layer file in an order of its own). This is computed from the layer *as loaded*, that is the
//!   layer file with the write log replayed, so it binds the snaps to both at once, and more
//!   exactly than the files' lengths and times would (a compaction that folds the log into the
//!   layer file changes neither the content nor the fingerprint; a write does);
//! - the body's length and CRC-32.
//!
//! A missing, stale, truncated or damaged file is ignored (logged) and the layer snapped again;
//! files are written atomically (temporary file, fsync, rename, fsync of the directory).

use std::collections::HashMap;
use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use geo::CoordsIter;
use rustc_hash::FxHasher;

use super::engine::GraphIdentity;
use super::features::FeatureSnaps;
use super::profile::ProfileId;
use super::snap::Snap;
use crate::index::LayerData;
use crate::model::Layer;

/// First bytes of a snap file.
const MAGIC: &[u8; 8] = b"TRNSNAPS";
/// Version of the layout below; a file of another version is rebuilt.
const FORMAT: u32 = 2;
/// Bytes of one row: the feature id (u64), a presence byte, segment (u32), fraction, lon, lat,
/// distance (f64).
const ROW: usize = 8 + 1 + 4 + 8 * 4;
/// Bytes of a row's snap, after its id.
const SNAP: usize = ROW - 8;
/// Folder of derived files inside a data directory.
pub const DERIVED_DIR: &str = "derived";

/// Why a snap file was not used (or not written).
#[derive(Debug, thiserror::Error)]
pub enum SnapFileError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Rejected { path: PathBuf, reason: &'static str },
}

/// Everything a snap file's header binds it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapKey {
    pub profile: ProfileId,
    pub layer: Layer,
    pub graph: GraphIdentity,
    pub rows: u64,
    pub fingerprint: u64,
}

impl SnapKey {
    /// The key of a layer's snaps on a graph: fingerprints the layer (one pass over its rows).
    pub fn new(profile: ProfileId, graph: GraphIdentity, layer: &LayerData) -> SnapKey {
        SnapKey {
            profile,
            layer: layer.layer(),
            graph,
            rows: layer.len() as u64,
            fingerprint: layer_fingerprint(layer),
        }
    }

    fn header(&self, body: &[u8]) -> Vec<u8> {
        let mut h = Vec::with_capacity(128);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&FORMAT.to_le_bytes());
        for name in [self.profile.id(), self.layer.id()] {
            h.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            h.extend_from_slice(name.as_bytes());
        }
        let g = &self.graph;
        for v in [
            g.file_len,
            g.mtime_ns,
            g.nodes,
            g.segments,
            g.max_snap_bits,
            self.rows,
            self.fingerprint,
            body.len() as u64,
        ] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        h
    }
}

/// A fingerprint of a layer's content whatever its row order: the wrapping sum of a hash of
/// each row's id, version and geometry coordinates. Order-independent because a compaction
/// saves the layer file in its own order (and a replay appends in id order): the snaps are
/// stored with their feature ids and put back by id. FxHash: this guards against stale files,
/// not against an adversary, and it hashes the 1.4M features of scale 500 in tens of ms.
pub fn layer_fingerprint(layer: &LayerData) -> u64 {
    let mut sum = layer.len() as u64;
    for row in 0..layer.len() as u32 {
        let mut h = FxHasher::default();
        h.write_u64(layer.id(row));
        h.write_u64(layer.version(row));
        let g = layer.geometry(row);
        h.write_usize(g.coords_count());
        for c in g.coords_iter() {
            h.write_u64(c.x.to_bits());
            h.write_u64(c.y.to_bits());
        }
        // One more round, so that the sum of rows does not cancel structured differences.
        sum = sum.wrapping_add(
            h.finish()
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29),
        );
    }
    sum
}

/// Where the snaps of a profile and layer live in a data directory.
pub fn snap_file_path(dir: &Path, profile: ProfileId, layer: Layer) -> PathBuf {
    dir.join(DERIVED_DIR)
        .join(format!("snaps-{}-{}.bin", profile.id(), layer.id()))
}

fn encode(layer: &LayerData, snaps: &FeatureSnaps) -> Vec<u8> {
    let mut body = Vec::with_capacity(snaps.len() * ROW);
    for (row, s) in snaps.iter().enumerate() {
        body.extend_from_slice(&layer.id(row as u32).to_le_bytes());
        match s {
            Some(s) => {
                body.push(1);
                body.extend_from_slice(&s.seg.to_le_bytes());
                for v in [s.frac, s.lonlat[0], s.lonlat[1], s.distance_m] {
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
            None => body.extend_from_slice(&[0; SNAP]),
        }
    }
    body
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(a)
}

fn decode_row(r: &[u8]) -> Option<Snap> {
    if r[0] == 0 {
        return None;
    }
    let mut seg = [0u8; 4];
    seg.copy_from_slice(&r[1..5]);
    Some(Snap {
        seg: u32::from_le_bytes(seg),
        frac: f64_at(r, 5),
        lonlat: [f64_at(r, 13), f64_at(r, 21)],
        distance_m: f64_at(r, 29),
    })
}

/// Writes the snaps of a layer (by row, as [`super::RoutingEngine::feature_snaps`] gives them)
/// atomically.
pub fn write_snaps(
    path: &Path,
    key: &SnapKey,
    layer: &LayerData,
    snaps: &FeatureSnaps,
) -> Result<(), SnapFileError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| SnapFileError::Io {
            action,
            path,
            source,
        }
    };
    let body = encode(layer, snaps);
    let header = key.header(&body);
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io("create", parent))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("snaps");
    // A name of its own per write: the start-up's persisting and a compaction's may overlap.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = parent.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    {
        let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(&header).map_err(io("write", &tmp))?;
        f.write_all(&body).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("rename into", path))?;
    fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", parent))
}

/// Reads the snaps of a file whose header matches `key` exactly, put back in the rows of
/// `layer` by feature id.
pub fn read_snaps(
    path: &Path,
    key: &SnapKey,
    layer: &LayerData,
) -> Result<FeatureSnaps, SnapFileError> {
    let rejected = |reason| SnapFileError::Rejected {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs::read(path).map_err(|source| SnapFileError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let rows = usize::try_from(key.rows).map_err(|_| rejected("too many rows"))?;
    let body_len = rows * ROW;
    let header_len = key.header(&[]).len();
    if bytes.len() != header_len + body_len || rows != layer.len() {
        return Err(rejected("wrong length (truncated, or of other data)"));
    }
    let (header, body) = bytes.split_at(header_len);
    if !header.starts_with(MAGIC) {
        return Err(rejected("not a snap file"));
    }
    if header != key.header(body).as_slice() {
        return Err(rejected(
            "stale or damaged (format, graph, layer content or checksum differ)",
        ));
    }
    let by_id: HashMap<u64, Option<Snap>> = body
        .chunks_exact(ROW)
        .map(|r| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&r[..8]);
            (u64::from_le_bytes(id), decode_row(&r[8..]))
        })
        .collect();
    (0..layer.len() as u32)
        .map(|row| by_id.get(&layer.id(row)).copied())
        .collect::<Option<FeatureSnaps>>()
        .ok_or_else(|| rejected("a feature of the layer is not in the file"))
}

/// One (profile, layer) pair whose snaps were prepared, and whether they came from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    pub profile: ProfileId,
    pub layer: Layer,
    pub from_file: bool,
}

impl super::Routing {
    /// Snaps every layer of a snapshot for every profile (profiles in parallel), loading the
    /// persisted snaps of `dir` where they match and snapping the rest; `done` is called as
    /// each pair is ready. Returns every pair, so that the caller can persist those that were
    /// not read from a file ([`super::Routing::persist_snaps`]).
    pub fn prepare_from(
        &self,
        dir: Option<&Path>,
        snapshot: &crate::index::Snapshot,
        done: &(dyn Fn(Prepared) + Sync),
    ) -> Vec<Prepared> {
        let fingerprints: Vec<u64> = match dir {
            Some(_) => std::thread::scope(|s| {
                let hs: Vec<_> = snapshot
                    .layers()
                    .map(|l| s.spawn(move || layer_fingerprint(l)))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or(0)).collect()
            }),
            None => Vec::new(),
        };
        let fingerprints = &fingerprints;
        std::thread::scope(|s| {
            let hs: Vec<_> = self
                .engines_with_ids()
                .map(|(engine, graph)| {
                    s.spawn(move || {
                        let profile = engine.profile();
                        let mut out = Vec::new();
                        for (i, layer) in snapshot.layers().enumerate() {
                            let key = match (dir, graph, fingerprints.get(i)) {
                                (Some(d), Some(g), Some(&fingerprint)) => Some((
                                    snap_file_path(d, profile, layer.layer()),
                                    SnapKey {
                                        profile,
                                        layer: layer.layer(),
                                        graph: g,
                                        rows: layer.len() as u64,
                                        fingerprint,
                                    },
                                )),
                                _ => None,
                            };
                            let from_file = key.is_some_and(|(path, key)| {
                                match read_snaps(&path, &key, layer) {
                                    Ok(snaps) => engine.install_snaps(layer, snaps),
                                    Err(e) => {
                                        tracing::info!(reason = %e, "snapping again: no usable snap file");
                                        false
                                    }
                                }
                            });
                            if !from_file {
                                engine.feature_snaps(layer);
                            }
                            let p = Prepared {
                                profile,
                                layer: layer.layer(),
                                from_file,
                            };
                            done(p);
                            out.push(p);
                        }
                        out
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// Writes the snaps of some layers of a snapshot for every profile whose graph came from a
    /// file (`layers`: those to write; snapped now if they are not cached). Failures are logged:
    /// a missing file only costs a snapping at the next start.
    pub fn persist_snaps(
        &self,
        dir: &Path,
        snapshot: &crate::index::Snapshot,
        layers: &[Layer],
    ) -> usize {
        let mut written = 0;
        for layer in layers {
            let data = snapshot.layer(*layer);
            let fingerprint = layer_fingerprint(data);
            for (engine, graph) in self.engines_with_ids() {
                let Some(graph) = graph else { continue };
                let key = SnapKey {
                    profile: engine.profile(),
                    layer: *layer,
                    graph,
                    rows: data.len() as u64,
                    fingerprint,
                };
                let path = snap_file_path(dir, key.profile, *layer);
                let snaps = engine.feature_snaps(data);
                match write_snaps(&path, &key, data, &snaps) {
                    Ok(()) => written += 1,
                    Err(e) => tracing::warn!(error = %e, "cannot persist the feature snaps"),
                }
            }
        }
        tracing::info!(files = written, "feature snaps persisted");
        written
    }
}
