//! The write log: every acknowledged write, appended and fsynced before the client hears 2xx.
//!
//! File layout: an 8-byte header `TRNWLOG1`, then records, each
//! `[payload length: u32 LE][CRC32 of length and payload: u32 LE][payload]`. The payload is the
//! JSON of a [`LogRecord`]: one request (a batch is one record, so it is all or nothing), as
//! the full resulting features (`put`) and deletions. Replaying a record is idempotent, so a log
//! may be replayed over layer files that already hold some of its effects: that is what makes
//! compaction safe to interrupt.
//!
//! Reading stops at the first record that is short, too long, or fails its checksum: with an
//! fsync after every group of appends, everything from that record on was never acknowledged
//! (an acknowledged record is followed only by records written after its fsync), so it is cut.
//!
//! Compaction: the live log `writes.log` is renamed to `writes.log.1` and a fresh one started;
//! the layer files are then saved (atomically, one by one) from a snapshot that includes every
//! record of `writes.log.1`, which is then removed. Start-up replays `writes.log.1` (left by an
//! interrupted compaction) and then `writes.log` over the layer files.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json, json};

use super::{StoreError, io, sync_dir};
use crate::ingest::geometry_from_geojson;
use crate::ingest::validate::stored_properties;
use crate::model::{Feature, FeatureId, Layer, geometry_to_json, schema};

/// Name of the live log in a data directory.
pub const LOG_FILE: &str = "writes.log";
/// Name of the log being compacted.
pub const ROTATED_LOG_FILE: &str = "writes.log.1";
const MAGIC: &[u8; 8] = b"TRNWLOG1";
const RECORD_HEADER: usize = 8;
/// Records larger than this are taken as a corrupt length (request bodies are far smaller).
pub const MAX_RECORD_BYTES: usize = 1 << 30;

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The feature as it is after the write (created or replaced).
    Put {
        layer: Layer,
        feature: Feature,
    },
    Delete {
        layer: Layer,
        id: FeatureId,
    },
}

impl Op {
    pub fn layer(&self) -> Layer {
        match self {
            Op::Put { layer, .. } | Op::Delete { layer, .. } => *layer,
        }
    }

    pub fn id(&self) -> FeatureId {
        match self {
            Op::Put { feature, .. } => feature.id,
            Op::Delete { id, .. } => *id,
        }
    }
}

/// One acknowledged request.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Increasing over the life of the data directory.
    pub seq: u64,
    pub ops: Vec<Op>,
}

impl LogRecord {
    /// Appends the framed record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ops: Vec<Json> = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { layer, feature } => json!({
                    "op": "put",
                    "layer": layer.id(),
                    "feature": feature_to_json(*layer, feature),
                }),
                Op::Delete { layer, id } => json!({"op": "delete", "layer": layer.id(), "id": id}),
            })
            .collect();
        let payload = json!({"seq": self.seq, "ops": ops}).to_string();
        let len = (payload.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(payload.as_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(payload.as_bytes());
    }

    fn decode(payload: &[u8]) -> Result<LogRecord, String> {
        let v: Json = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let seq = v["seq"].as_u64().ok_or("no `seq`")?;
        let ops = v["ops"]
            .as_array()
            .ok_or("no `ops`")?
            .iter()
            .map(|op| {
                let layer: Layer = op["layer"]
                    .as_str()
                    .ok_or("op without `layer`")?
                    .parse()
                    .map_err(|e: crate::model::UnknownLayer| e.to_string())?;
                match op["op"].as_str() {
                    Some("put") => Ok(Op::Put {
                        layer,
                        feature: feature_from_json(layer, &op["feature"])?,
                    }),
                    Some("delete") => Ok(Op::Delete {
                        layer,
                        id: op["id"].as_u64().ok_or("delete without `id`")?,
                    }),
                    _ => Err("unknown op".to_string()),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(LogRecord { seq, ops })
    }
}

/// A feature exactly as held: typed fields by their own names (computed ones included),
/// extras apart, so that reading it back gives the same feature.
pub fn feature_to_json(layer: Layer, f: &Feature) -> Json {
    let mut props = Map::new();
    for (field, value) in schema(layer).fields.iter().zip(&f.props) {
        if let Some(v) = value {
            props.insert(field.name.to_string(), v.to_json());
        }
    }
    json!({
        "id": f.id,
        "version": f.version,
        "geometry": geometry_to_json(&f.geometry),
        "props": props,
        "extra": f.extra,
    })
}

/// Reads what [`feature_to_json`] wrote.
pub fn feature_from_json(layer: Layer, v: &Json) -> Result<Feature, String> {
    let id = v["id"].as_u64().ok_or("feature without `id`")?;
    let version = v["version"].as_u64().ok_or("feature without `version`")?;
    let geometry = geometry_from_geojson(&v["geometry"]).map_err(|e| e.to_string())?;
    let props = match &v["props"] {
        Json::Object(m) => m.clone(),
        _ => return Err("feature without `props`".into()),
    };
    let (props, rest) = stored_properties(props, schema(layer)).map_err(|e| e.to_string())?;
    let mut extra = match &v["extra"] {
        Json::Object(m) => m.clone(),
        _ => Map::new(),
    };
    extra.extend(rest);
    Ok(Feature {
        id,
        version,
        geometry,
        props,
        extra,
    })
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogContents {
    pub records: Vec<LogRecord>,
    /// Length of the valid prefix (header and whole records).
    pub valid_len: u64,
    /// Why reading stopped before the end of the file, if it did: a torn or corrupt tail.
    pub torn: Option<String>,
    /// A record whose checksum holds but whose payload cannot be read: not a torn write but a
    /// bug or a newer format, so start-up refuses instead of dropping it.
    pub unreadable: Option<String>,
}

/// Reads a log held in memory. Never fails: problems are reported in the result.
pub fn read_log(bytes: &[u8]) -> LogContents {
    let mut out = LogContents::default();
    if bytes.len() < MAGIC.len() {
        // A log whose header was never completely written holds no record.
        if !bytes.is_empty() {
            out.torn = Some(format!("header cut at {} bytes", bytes.len()));
        }
        return out;
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        out.unreadable = Some("not a terriens write log (bad header)".into());
        return out;
    }
    let mut pos = MAGIC.len();
    out.valid_len = pos as u64;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < RECORD_HEADER {
            out.torn = Some(format!("record header cut at offset {pos}"));
            break;
        }
        let len_bytes: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD_BYTES || rest.len() - RECORD_HEADER < len {
            out.torn = Some(format!(
                "record at offset {pos} cut short ({len} bytes announced)"
            ));
            break;
        }
        let payload = &rest[RECORD_HEADER..RECORD_HEADER + len];
        let mut h = crc32fast::Hasher::new();
        h.update(&len_bytes);
        h.update(payload);
        if h.finalize() != crc {
            out.torn = Some(format!("record at offset {pos} fails its checksum"));
            break;
        }
        match LogRecord::decode(payload) {
            Ok(r) => out.records.push(r),
            Err(e) => {
                out.unreadable = Some(format!("record at offset {pos}: {e}"));
                break;
            }
        }
        pos += RECORD_HEADER + len;
        out.valid_len = pos as u64;
    }
    out
}

/// The live log, open for appending.
#[derive(Debug)]
pub struct WriteLog {
    dir: PathBuf,
    file: File,
    len: u64,
}

/// Records recovered at start-up, in order (rotated log first).
#[derive(Debug, Default)]
pub struct Recovered {
    pub records: Vec<LogRecord>,
    /// Bytes cut from torn tails, with the reasons.
    pub cut: Vec<String>,
}

impl WriteLog {
    /// Opens the logs of a data directory: reads `writes.log.1` (if an interrupted compaction
    /// left it) and `writes.log`, cuts a torn tail off the live log, and opens it for appending
    /// (creating it if absent).
    pub fn open(dir: &Path) -> Result<(WriteLog, Recovered), StoreError> {
        let mut recovered = Recovered::default();
        let rotated = dir.join(ROTATED_LOG_FILE);
        if rotated.exists() {
            let contents = read_file(&rotated)?;
            // The rotated log was complete and fsynced when it was renamed: a torn tail there
            // is unacknowledged too, and nothing is ever appended to it again.
            recovered.take(&rotated, contents)?;
        }
        let path = dir.join(LOG_FILE);
        // A log shorter than its header holds no record (logs are created whole, header
        // included, by a rename; this is for a file damaged otherwise): start it again.
        if !path.exists()
            || fs::metadata(&path).map_err(io("cannot stat", &path))?.len() < MAGIC.len() as u64
        {
            create_empty(dir, &path)?;
        }
        let contents = read_file(&path)?;
        let valid_len = contents.valid_len.max(MAGIC.len() as u64);
        let needs_cut = contents.torn.is_some();
        recovered.take(&path, contents)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        if needs_cut {
            // Keep the cut bytes for forensics, then cut them so appends follow whole records.
            let mut all = Vec::new();
            (&file)
                .read_to_end(&mut all)
                .map_err(io("cannot read", &path))?;
            let tail = dir.join(format!("{LOG_FILE}.torn"));
            fs::write(&tail, all.get(valid_len as usize..).unwrap_or_default())
                .map_err(io("cannot write", &tail))?;
            file.set_len(valid_len)
                .map_err(io("cannot truncate", &path))?;
            file.sync_all().map_err(io("cannot fsync", &path))?;
        }
        let log = WriteLog {
            dir: dir.to_path_buf(),
            file,
            len: valid_len,
        };
        Ok((log, recovered))
    }

    /// Size of the live log, bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the live log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= MAGIC.len() as u64
    }

    /// Appends framed records (see [`LogRecord::encode`]) in one write, then fsyncs. When this
    /// returns `Ok`, the records survive a crash or a power cut.
    pub fn append(&mut self, framed: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join(LOG_FILE);
        use std::io::{Seek, SeekFrom};
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(io("cannot seek", &path))?;
        self.file
            .write_all(framed)
            .map_err(io("cannot append to", &path))?;
        // The file's size changes, so fdatasync writes that metadata too.
        self.file.sync_data().map_err(io("cannot fsync", &path))?;
        self.len += framed.len() as u64;
        Ok(())
    }

    /// Whether a compaction left a rotated log behind.
    pub fn has_rotated(&self) -> bool {
        self.dir.join(ROTATED_LOG_FILE).exists()
    }

    /// Starts a compaction: the live log becomes `writes.log.1` and a fresh log is started.
    /// Fails if `writes.log.1` exists (a compaction is unfinished).
    pub fn rotate(&mut self) -> Result<(), StoreError> {
        let live = self.dir.join(LOG_FILE);
        let rotated = self.dir.join(ROTATED_LOG_FILE);
        if rotated.exists() {
            return Err(StoreError::Io {
                action: "cannot rotate onto",
                path: rotated,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "an earlier compaction is unfinished",
                ),
            });
        }
        fs::rename(&live, &rotated).map_err(io("cannot rename", &live))?;
        create_empty(&self.dir, &live)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&live)
            .map_err(io("cannot open", &live))?;
        self.len = MAGIC.len() as u64;
        Ok(())
    }

    /// Ends a compaction: the layer files hold everything `writes.log.1` held.
    pub fn remove_rotated(dir: &Path) -> Result<(), StoreError> {
        let rotated = dir.join(ROTATED_LOG_FILE);
        if rotated.exists() {
            fs::remove_file(&rotated).map_err(io("cannot remove", &rotated))?;
        }
        sync_dir(dir)
    }

    /// Flushes the log to disk (appends already do; this is for shutdown).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file
            .sync_all()
            .map_err(io("cannot fsync", &self.dir.join(LOG_FILE)))
    }
}

impl Recovered {
    fn take(&mut self, path: &Path, contents: LogContents) -> Result<(), StoreError> {
        if let Some(reason) = contents.unreadable {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "{reason}; the log holds acknowledged writes, so the server does not start \
                     without them (move the file away to start from the layer files alone)"
                ),
            });
        }
        if let Some(reason) = contents.torn {
            self.cut.push(format!("{}: {reason}", path.display()));
        }
        self.records.extend(contents.records);
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<LogContents, StoreError> {
    let bytes = fs::read(path).map_err(io("cannot read", path))?;
    Ok(read_log(&bytes))
}

/// Creates an empty log atomically: a temporary file with the header, fsynced, renamed.
fn create_empty(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let tmp = dir.join(format!(".{LOG_FILE}.tmp"));
    {
        let mut f = File::create(&tmp).map_err(io("cannot create", &tmp))?;
        f.write_all(MAGIC).map_err(io("cannot write", &tmp))?;
        f.sync_all().map_err(io("cannot fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("cannot rename into", path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;
    use geo_types::{Geometry, point};

    fn deposit(id: u64, q: f64) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text("wood".into()));
        props[s.index_of("quantity")] = Some(Value::Float(q));
        props[s.index_of("unit")] = Some(Value::Text("t".into()));
        props[s.index_of("holder")] = Some(Value::Text("  Scierie \"Nord\" ".trim().into()));
        let mut extra = Map::new();
        extra.insert("note".into(), json!({"a": [1, null, "x"]}));
        Feature {
            id,
            version: 3,
            geometry: Geometry::Point(point!(x: 0.123_456_789_012_345_6, y: 49.1)),
            props,
            extra,
        }
    }

    fn framed(records: &[LogRecord]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for r in records {
            r.encode(&mut out);
        }
        out
    }

    #[test]
    fn records_round_trip_exactly() {
        let recs = vec![
            LogRecord {
                seq: 1,
                ops: vec![Op::Put {
                    layer: Layer::WasteDeposits,
                    feature: deposit(5, 0.1 + 0.2),
                }],
            },
            LogRecord {
                seq: 2,
                ops: vec![Op::Delete {
                    layer: Layer::Plots,
                    id: 9,
                }],
            },
        ];
        let bytes = framed(&recs);
        let back = read_log(&bytes);
        assert_eq!(back.records, recs);
        assert_eq!(back.valid_len, bytes.len() as u64);
        assert!(back.torn.is_none() && back.unreadable.is_none());
    }

    /// Every cut of a two-record log reads as a prefix of whole records, never part of one.
    #[test]
    fn torn_tail_is_cut_at_every_length() {
        let recs: Vec<LogRecord> = (1..=2)
            .map(|seq| LogRecord {
                seq,
                ops: vec![Op::Put {
                    layer: Layer::WasteDeposits,
                    feature: deposit(seq, seq as f64),
                }],
            })
            .collect();
        let bytes = framed(&recs);
        let first_end = framed(&recs[..1]).len();
        for cut in 0..bytes.len() {
            let back = read_log(&bytes[..cut]);
            let expect = if cut >= first_end { 1 } else { 0 };
            assert_eq!(back.records.len(), expect, "cut at {cut}");
            assert!(back.unreadable.is_none());
        }
        // A flipped byte in the last record: that record is dropped, the first kept.
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 3] ^= 0x40;
        let back = read_log(&bad);
        assert_eq!(back.records, recs[..1]);
        assert_eq!(back.valid_len, first_end as u64);
        assert!(back.torn.is_some());
    }

    #[test]
    fn open_cuts_a_torn_tail_and_appends_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, rec) = WriteLog::open(dir.path()).unwrap();
        assert!(rec.records.is_empty() && log.is_empty());
        let r1 = LogRecord {
            seq: 1,
            ops: vec![Op::Delete {
                layer: Layer::Plots,
                id: 1,
            }],
        };
        let mut buf = Vec::new();
        r1.encode(&mut buf);
        log.append(&buf).unwrap();
        drop(log);
        // A torn second record.
        let path = dir.path().join(LOG_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let (mut log, rec) = WriteLog::open(dir.path()).unwrap();
        assert_eq!(rec.records, vec![r1.clone()]);
        assert_eq!(rec.cut.len(), 1);
        let r2 = LogRecord {
            seq: 2,
            ..r1.clone()
        };
        let mut buf = Vec::new();
        r2.encode(&mut buf);
        log.append(&buf).unwrap();
        drop(log);
        let (_, rec) = WriteLog::open(dir.path()).unwrap();
        assert_eq!(rec.records, vec![r1, r2]);
        assert!(rec.cut.is_empty());
        // A log cut inside its header is started again, not refused.
        std::fs::write(&path, &MAGIC[..3]).unwrap();
        let (log, rec) = WriteLog::open(dir.path()).unwrap();
        assert!(rec.records.is_empty() && log.is_empty());
        drop(log);
        assert!(WriteLog::open(dir.path()).is_ok());
    }
}
