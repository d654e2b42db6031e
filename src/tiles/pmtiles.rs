//! PMTiles v3 export: every tile of a tile set from `minzoom` to `maxzoom` over the data's
//! bounds in one file for static hosting. Steps: list the tiles over the bounds, render them
//! (threads), gzip, dedupe identical contents, order by Hilbert tile id, run-length encode
//! repeated consecutive tiles, write the root directory (and leaf directories when it would
//! not fit in the first 16 KiB), the TileJSON metadata and the header.
//!
//! Why not the `pmtiles` crate's writer (tried, 0.26): its root directory limit is fixed at
//! 16 KiB, so an archive's leaf directories cannot be exercised on small data (our tests ask
//! for a 60-byte root), it reports none of the counts [`ExportReport`] gives, and even without
//! default features it pulls `async-compression`. The Hilbert curve is the one of
//! [`crate::geo_util::hilbert_index`], shared with the routing graph.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use serde_json::Value as Json;

use super::engine::Fnv64;
use super::prepare::Prepared;
use super::tilejson::world_bounds;
use super::{TileConfig, TileCoord, TileError, TileSet, gzip, render_tile, tilejson};
use crate::geo_util::hilbert_index;

const HEADER_LEN: usize = 127;
/// The header and the root directory must fit in the first 16 KiB.
const ROOT_MAX: usize = 16_384 - HEADER_LEN;
const COMPRESSION_GZIP: u8 = 2;
const TILE_TYPE_MVT: u8 = 1;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub out: PathBuf,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Largest root directory, bytes; above it entries go to leaf directories. At most (and by
    /// default) what fits in the first 16 KiB with the header, as the spec requires.
    pub root_max_bytes: usize,
}

impl ExportOptions {
    pub fn new(out: PathBuf, minzoom: u8, maxzoom: u8) -> ExportOptions {
        ExportOptions {
            out,
            minzoom,
            maxzoom,
            root_max_bytes: ROOT_MAX,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportReport {
    /// Non-empty tiles.
    pub addressed_tiles: u64,
    /// Directory entries (after run-length encoding).
    pub tile_entries: u64,
    /// Distinct tile contents (after deduplication).
    pub tile_contents: u64,
    pub file_bytes: u64,
    pub leaf_directories: usize,
}

/// The PMTiles tile id: tiles of lower zooms first, then the position along the Hilbert curve.
///
/// ```
/// use terriens::tiles::tile_id;
/// assert_eq!(tile_id(0, 0, 0), 0);
/// assert_eq!([tile_id(1, 0, 0), tile_id(1, 0, 1), tile_id(1, 1, 1), tile_id(1, 1, 0)], [1, 2, 3, 4]);
/// ```
pub fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    let base: u64 = ((1u64 << (2 * u32::from(z))) - 1) / 3;
    base + hilbert_index(z, x, y)
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A tile id and its gzipped body.
type Encoded = (u64, Vec<u8>);

/// One directory entry.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    tile_id: u64,
    offset: u64,
    length: u32,
    /// 0: the entry points to a leaf directory.
    run_length: u32,
}

/// Serialises and gzips a directory (spec §4: counts, delta ids, run lengths, lengths,
/// offsets with 0 meaning "right after the previous one").
fn directory_bytes(entries: &[Entry]) -> Result<Vec<u8>, TileError> {
    let mut raw = Vec::with_capacity(entries.len() * 6 + 8);
    push_varint(&mut raw, entries.len() as u64);
    let mut last = 0;
    for e in entries {
        push_varint(&mut raw, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        push_varint(&mut raw, u64::from(e.run_length));
    }
    for e in entries {
        push_varint(&mut raw, u64::from(e.length));
    }
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && e.offset == entries[i - 1].offset + u64::from(entries[i - 1].length) {
            push_varint(&mut raw, 0);
        } else {
            push_varint(&mut raw, e.offset + 1);
        }
    }
    gzip(&raw).map_err(|e| TileError::Encode(e.to_string()))
}

/// Root directory and leaf directories, the root within `root_max` bytes.
fn directories(entries: &[Entry], root_max: usize) -> Result<(Vec<u8>, Vec<u8>, usize), TileError> {
    let root_max = root_max.min(ROOT_MAX);
    let root = directory_bytes(entries)?;
    if root.len() <= root_max {
        return Ok((root, Vec::new(), 0));
    }
    // Leaves of 4096 entries, grown until the root fits (go-pmtiles does the same).
    let mut leaf_size = 4096usize.min(entries.len().div_ceil(8).max(16));
    loop {
        let mut leaves = Vec::new();
        let mut root_entries = Vec::new();
        for chunk in entries.chunks(leaf_size) {
            let bytes = directory_bytes(chunk)?;
            root_entries.push(Entry {
                tile_id: chunk[0].tile_id,
                offset: leaves.len() as u64,
                length: bytes.len() as u32,
                run_length: 0,
            });
            leaves.extend_from_slice(&bytes);
        }
        let root = directory_bytes(&root_entries)?;
        if root.len() <= root_max || root_entries.len() == 1 {
            return Ok((root, leaves, root_entries.len()));
        }
        leaf_size += leaf_size / 5;
    }
}

/// The tiles of zoom `z` that cover world bounds `b`.
fn tiles_over(b: [f64; 4], z: u8) -> impl Iterator<Item = TileCoord> {
    let n = f64::from(1u32 << z);
    let max = (1u32 << z) - 1;
    let clamp = |v: f64| (v * n).floor().clamp(0.0, f64::from(max)) as u32;
    let (x0, y0, x1, y1) = (clamp(b[0]), clamp(b[1]), clamp(b[2]), clamp(b[3]));
    (x0..=x1).flat_map(move |x| (y0..=y1).map(move |y| TileCoord { z, x, y }))
}

/// Writes the tile set as a PMTiles v3 archive: list the tiles → render and gzip them →
/// dedupe and run-length encode → directories → metadata → header → one atomic write.
pub fn export_pmtiles(
    prepared: &Prepared,
    set: &TileSet,
    cfg: &TileConfig,
    opts: &ExportOptions,
    progress: &ProgressBar,
) -> Result<ExportReport, TileError> {
    let coords = tiles_to_render(prepared, set, cfg, opts);
    progress.set_length(coords.len() as u64);
    let rendered = render_all(prepared, set, cfg, &coords, progress)?;
    let packed = pack(&rendered);
    let (root, leaves, leaf_count) = directories(&packed.entries, opts.root_max_bytes)?;
    let meta = archive_metadata(prepared, set, cfg, opts);
    let meta_bytes =
        gzip(meta.to_string().as_bytes()).map_err(|e| TileError::Encode(e.to_string()))?;
    let layout = Layout::new(&root, &meta_bytes, &leaves);
    let h = header(&layout, &packed, &meta, opts);
    write_atomically(&opts.out, &[&h, &root, &meta_bytes, &leaves, &packed.data])?;
    Ok(ExportReport {
        addressed_tiles: packed.addressed,
        tile_entries: packed.entries.len() as u64,
        tile_contents: packed.contents,
        file_bytes: layout.data_off + packed.data.len() as u64,
        leaf_directories: leaf_count,
    })
}

/// Every tile from `minzoom` to `maxzoom` over the bounds of what the set's reader sees
/// (grown by the tile buffer at each zoom), in tile-id order.
fn tiles_to_render(
    prepared: &Prepared,
    set: &TileSet,
    cfg: &TileConfig,
    opts: &ExportOptions,
) -> Vec<(u64, TileCoord)> {
    let mut coords: Vec<(u64, TileCoord)> = Vec::new();
    if let Some(b) = world_bounds(prepared, set) {
        for z in opts.minzoom..=opts.maxzoom {
            let g = f64::from(cfg.buffer) / f64::from(cfg.extent) / f64::from(1u32 << z);
            let grown = [b[0] - g, b[1] - g, b[2] + g, b[3] + g];
            coords.extend(tiles_over(grown, z).map(|t| (tile_id(t.z, t.x, t.y), t)));
        }
    }
    coords.sort_unstable_by_key(|(id, _)| *id);
    coords
}

/// Renders and gzips the tiles in parallel, in chunks that keep tile-id order; empty tiles
/// are left out.
fn render_all(
    prepared: &Prepared,
    set: &TileSet,
    cfg: &TileConfig,
    coords: &[(u64, TileCoord)],
    progress: &ProgressBar,
) -> Result<Vec<Encoded>, TileError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rendered: Vec<Encoded> = Vec::with_capacity(coords.len());
    for batch in coords.chunks(threads * 64) {
        let per = batch.len().div_ceil(threads);
        let results: Vec<Result<Vec<Encoded>, TileError>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .chunks(per.max(1))
                .map(|part| s.spawn(move || render_part(prepared, set, cfg, part, progress)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(TileError::Encode("a tile thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            rendered.extend(r?);
        }
    }
    Ok(rendered)
}

/// Renders and gzips one thread's share of a batch.
fn render_part(
    prepared: &Prepared,
    set: &TileSet,
    cfg: &TileConfig,
    part: &[(u64, TileCoord)],
    progress: &ProgressBar,
) -> Result<Vec<Encoded>, TileError> {
    let mut out = Vec::with_capacity(part.len());
    for (id, t) in part {
        let r = render_tile(prepared, set, *t, cfg);
        progress.inc(1);
        if r.bytes.is_empty() {
            continue;
        }
        let gz = gzip(&r.bytes).map_err(|e| TileError::Encode(e.to_string()))?;
        out.push((*id, gz));
    }
    Ok(out)
}

/// The tile data section and its directory entries.
struct Packed {
    data: Vec<u8>,
    entries: Vec<Entry>,
    /// Non-empty tiles.
    addressed: u64,
    /// Distinct contents.
    contents: u64,
}

/// Dedupes identical contents (stored once) and run-length encodes consecutive repeats.
fn pack(rendered: &[Encoded]) -> Packed {
    let mut data: Vec<u8> = Vec::new();
    let mut seen: HashMap<(u64, usize), u64> = HashMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut contents = 0u64;
    for (id, bytes) in rendered {
        let mut h = Fnv64::default();
        h.write(bytes);
        let key = (h.finish(), bytes.len());
        let offset = match seen.get(&key) {
            Some(off) if data[*off as usize..*off as usize + bytes.len()] == bytes[..] => *off,
            _ => {
                let off = data.len() as u64;
                data.extend_from_slice(bytes);
                seen.insert(key, off);
                contents += 1;
                off
            }
        };
        if let Some(last) = entries.last_mut()
            && last.offset == offset
            && last.tile_id + u64::from(last.run_length) == *id
        {
            last.run_length += 1;
            continue;
        }
        entries.push(Entry {
            tile_id: *id,
            offset,
            length: bytes.len() as u32,
            run_length: 1,
        });
    }
    Packed {
        data,
        entries,
        addressed: rendered.len() as u64,
        contents,
    }
}

/// The archive's TileJSON metadata: the server's, without `tiles`, with the exported zooms.
fn archive_metadata(
    prepared: &Prepared,
    set: &TileSet,
    cfg: &TileConfig,
    opts: &ExportOptions,
) -> Json {
    let mut meta = tilejson(prepared, set, "", cfg);
    if let Json::Object(m) = &mut meta {
        m.remove("tiles");
        m.insert("minzoom".into(), opts.minzoom.into());
        m.insert("maxzoom".into(), opts.maxzoom.into());
        m.insert("format".into(), "pbf".into());
        m.insert("type".into(), "overlay".into());
        if let Some(Json::Array(layers)) = m.get_mut("vector_layers") {
            for l in layers {
                l["minzoom"] = opts.minzoom.into();
                l["maxzoom"] = opts.maxzoom.into();
            }
        }
    }
    meta
}

/// Offsets and lengths of the sections, in file order after the header.
struct Layout {
    root_off: u64,
    root_len: u64,
    meta_off: u64,
    meta_len: u64,
    leaves_off: u64,
    leaves_len: u64,
    data_off: u64,
}

impl Layout {
    fn new(root: &[u8], meta: &[u8], leaves: &[u8]) -> Layout {
        let root_off = HEADER_LEN as u64;
        let meta_off = root_off + root.len() as u64;
        let leaves_off = meta_off + meta.len() as u64;
        Layout {
            root_off,
            root_len: root.len() as u64,
            meta_off,
            meta_len: meta.len() as u64,
            leaves_off,
            leaves_len: leaves.len() as u64,
            data_off: leaves_off + leaves.len() as u64,
        }
    }
}

/// The 127-byte header (spec §3): section offsets, counts, compression, zooms, bounds and
/// centre (from the metadata, in units of 1e-7 degree).
fn header(layout: &Layout, packed: &Packed, meta: &Json, opts: &ExportOptions) -> Vec<u8> {
    let (lon_lat_bounds, center) = match (&meta["bounds"], &meta["center"]) {
        (Json::Array(b), Json::Array(c)) => (
            b.iter().filter_map(Json::as_f64).collect::<Vec<_>>(),
            c.iter().filter_map(Json::as_f64).collect::<Vec<_>>(),
        ),
        _ => (vec![-180.0, -85.0, 180.0, 85.0], vec![0.0, 0.0, 0.0]),
    };
    let e7 = |v: f64| (v * 1e7).round() as i32;
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(b"PMTiles");
    h.push(3);
    for v in [
        layout.root_off,
        layout.root_len,
        layout.meta_off,
        layout.meta_len,
        layout.leaves_off,
        layout.leaves_len,
        layout.data_off,
        packed.data.len() as u64,
        packed.addressed,
        packed.entries.len() as u64,
        packed.contents,
    ] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.push(1); // clustered: tile data in tile-id order
    h.push(COMPRESSION_GZIP); // directories and metadata
    h.push(COMPRESSION_GZIP); // tiles
    h.push(TILE_TYPE_MVT);
    h.push(opts.minzoom);
    h.push(opts.maxzoom);
    for v in [
        lon_lat_bounds.first().copied().unwrap_or(-180.0),
        lon_lat_bounds.get(1).copied().unwrap_or(-85.0),
        lon_lat_bounds.get(2).copied().unwrap_or(180.0),
        lon_lat_bounds.get(3).copied().unwrap_or(85.0),
    ] {
        h.extend_from_slice(&e7(v).to_le_bytes());
    }
    let cz = center
        .get(2)
        .copied()
        .unwrap_or(0.0)
        .clamp(f64::from(opts.minzoom), f64::from(opts.maxzoom)) as u8;
    h.push(cz);
    h.extend_from_slice(&e7(center.first().copied().unwrap_or(0.0)).to_le_bytes());
    h.extend_from_slice(&e7(center.get(1).copied().unwrap_or(0.0)).to_le_bytes());
    debug_assert_eq!(h.len(), HEADER_LEN);
    h
}

fn write_atomically(path: &Path, parts: &[&[u8]]) -> Result<(), TileError> {
    let io = |source| TileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("pmtiles.tmp");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        for p in parts {
            f.write_all(p).map_err(io)?;
        }
        f.flush().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_ids_cover_each_zoom_once() {
        for z in 0..=4u8 {
            let n = 1u32 << z;
            let base = ((1u64 << (2 * u32::from(z))) - 1) / 3;
            let mut ids: Vec<u64> = (0..n)
                .flat_map(|x| (0..n).map(move |y| tile_id(z, x, y)))
                .collect();
            ids.sort_unstable();
            let want: Vec<u64> = (base..base + u64::from(n) * u64::from(n)).collect();
            assert_eq!(ids, want, "zoom {z}");
        }
        // Consecutive Hilbert positions are neighbouring tiles.
        let z = 5u8;
        let n = 1u32 << z;
        let mut by_id: Vec<(u64, u32, u32)> = (0..n)
            .flat_map(|x| (0..n).map(move |y| (tile_id(z, x, y), x, y)))
            .collect();
        by_id.sort_unstable();
        for w in by_id.windows(2) {
            let d = w[0].1.abs_diff(w[1].1) + w[0].2.abs_diff(w[1].2);
            assert_eq!(d, 1);
        }
    }

    #[test]
    fn varints() {
        let mut v = Vec::new();
        push_varint(&mut v, 300);
        assert_eq!(v, vec![0xac, 0x02]);
    }
}
