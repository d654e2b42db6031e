//! The write log: every acknowledged write, appended and fsynced before the client hears 2xx.
//!
//! File layout: an 8-byte header `TRNWLOG1`, then records, each
//! `[payload length: u32 LE][CRC32 of length and payload: u32 LE][payload]`. The payload is the
//! JSON of a [`LogRecord`]: one request (a batch is one record, so it is all or nothing), as
//! the full resulting features (`put`) and deletions, and the same for stored projects
//! (`put_project`, `delete_project`). Replaying a record is idempotent, so a log
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
use crate::model::{Feature, FeatureId, Layer, Project, ProjectId, geometry_to_json, schema};

/// Name of the live log in a data directory.
pub const LOG_FILE: &str = "writes.log";
/// Name of the log being compacted.
pub const ROTATED_LOG_FILE: &str = "writes.log.1";
pub(crate) const MAGIC: &[u8; 8] = b"TRNWLOG1";
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
    /// A stored project as it is after the write.
    PutProject {
        project: Project,
    },
    DeleteProject {
        id: ProjectId,
    },
}

impl Op {
    /// The layer a feature op changes; `None` for a project op.
    pub fn layer(&self) -> Option<Layer> {
        match self {
            Op::Put { layer, .. } | Op::Delete { layer, .. } => Some(*layer),
            Op::PutProject { .. } | Op::DeleteProject { .. } => None,
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
                Op::PutProject { project } => {
                    json!({"op": "put_project", "project": project.to_json()})
                }
                Op::DeleteProject { id } => json!({"op": "delete_project", "id": id}),
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

    fn decode(payload: &[u8]) -> Result<LogRecord, RecordError> {
        let v: Json =
            serde_json::from_slice(payload).map_err(|e| RecordError::Json(e.to_string()))?;
        let seq = v["seq"].as_u64().ok_or(RecordError::Missing("no `seq`"))?;
        let ops = v["ops"]
            .as_array()
            .ok_or(RecordError::Missing("no `ops`"))?
            .iter()
            .map(decode_op)
            .collect::<Result<Vec<_>, RecordError>>()?;
        Ok(LogRecord { seq, ops })
    }
}

/// Why a log record's payload (or a feature in it) could not be read although its checksum
/// holds: a bug or a newer format, never a torn write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The payload is not JSON.
    #[error("{0}")]
    Json(String),
    /// A member is missing or of the wrong type; the message says which.
    #[error("{0}")]
    Missing(&'static str),
    #[error(transparent)]
    Layer(#[from] crate::model::UnknownLayer),
    #[error("unknown op")]
    UnknownOp,
    /// A feature's geometry or properties do not read.
    #[error("{0}")]
    Feature(String),
}

/// Reads one op of a record.
fn decode_op(op: &Json) -> Result<Op, RecordError> {
    match op["op"].as_str() {
        Some("put_project") => {
            return Ok(Op::PutProject {
                project: Project::from_json(&op["project"]).map_err(RecordError::Missing)?,
            });
        }
        Some("delete_project") => {
            return Ok(Op::DeleteProject {
                id: op["id"]
                    .as_u64()
                    .ok_or(RecordError::Missing("delete_project without `id`"))?,
            });
        }
        _ => {}
    }
    let layer: Layer = op["layer"]
        .as_str()
        .ok_or(RecordError::Missing("op without `layer`"))?
        .parse()?;
    match op["op"].as_str() {
        Some("put") => Ok(Op::Put {
            layer,
            feature: feature_from_json(layer, &op["feature"])?,
        }),
        Some("delete") => Ok(Op::Delete {
            layer,
            id: op["id"]
                .as_u64()
                .ok_or(RecordError::Missing("delete without `id`"))?,
        }),
        _ => Err(RecordError::UnknownOp),
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
pub fn feature_from_json(layer: Layer, v: &Json) -> Result<Feature, RecordError> {
    let id = v["id"]
        .as_u64()
        .ok_or(RecordError::Missing("feature without `id`"))?;
    let version = v["version"]
        .as_u64()
        .ok_or(RecordError::Missing("feature without `version`"))?;
    let geometry =
        geometry_from_geojson(&v["geometry"]).map_err(|e| RecordError::Feature(e.to_string()))?;
    let props = match &v["props"] {
        Json::Object(m) => m.clone(),
        _ => return Err(RecordError::Missing("feature without `props`")),
    };
    let (props, rest) =
        stored_properties(props, schema(layer)).map_err(|e| RecordError::Feature(e.to_string()))?;
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
    /// The whole records before the first problem, in order.
    pub records: Vec<LogRecord>,
    /// Length of the valid prefix (header and whole records).
    pub valid_len: u64,
    /// A torn tail: the log ends with bytes that are not a whole record and no whole record
    /// follows them (a crash mid-append: never acknowledged, so it is cut).
    pub torn: Option<String>,
    /// Damage in the middle: bytes that are not a whole record, followed by whole records.
    /// Not a torn append, so start-up refuses to guess (see `terriens log`).
    pub damaged: Option<String>,
    /// A record whose checksum holds but whose payload cannot be read: not a torn write but a
    /// bug or a newer format, so start-up refuses instead of dropping it.
    pub unreadable: Option<String>,
}

/// A stretch of a log file after its header, as [`scan_log`] finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A whole record: its checksum holds and its payload reads.
    Record {
        offset: u64,
        len: u64,
        record: LogRecord,
    },
    /// A frame whose checksum holds but whose payload cannot be read.
    Unreadable {
        offset: u64,
        len: u64,
        reason: String,
    },
    /// Bytes that are not a whole record, up to the next offset where a frame with a valid
    /// checksum starts (or the end of the file).
    Damaged {
        offset: u64,
        len: u64,
        reason: String,
    },
}

impl Segment {
    /// Offset and length in the file.
    pub fn range(&self) -> (u64, u64) {
        match self {
            Segment::Record { offset, len, .. }
            | Segment::Unreadable { offset, len, .. }
            | Segment::Damaged { offset, len, .. } => (*offset, *len),
        }
    }
}

/// Why the bytes at an offset are not a whole record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum FrameError {
    #[error("record header cut at offset {pos}")]
    HeaderCut { pos: usize },
    #[error("record at offset {pos} cut short ({len} bytes announced)")]
    CutShort { pos: usize, len: usize },
    #[error("record at offset {pos} fails its checksum")]
    Checksum { pos: usize },
}

/// Checks the frame at `pos`: the payload's length if the frame is whole and its checksum
/// holds, or why not.
fn frame_at(bytes: &[u8], pos: usize) -> Result<usize, FrameError> {
    let rest = &bytes[pos..];
    if rest.len() < RECORD_HEADER {
        return Err(FrameError::HeaderCut { pos });
    }
    let len_bytes: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
    let len = u32::from_le_bytes(len_bytes) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    // The writer never frames an empty payload (a record is a JSON object).
    if !(2..=MAX_RECORD_BYTES).contains(&len) || rest.len() - RECORD_HEADER < len {
        return Err(FrameError::CutShort { pos, len });
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(&rest[RECORD_HEADER..RECORD_HEADER + len]);
    if h.finalize() != crc {
        return Err(FrameError::Checksum { pos });
    }
    Ok(len)
}

/// Splits a log (header included) into records, unreadable frames and damaged stretches.
/// After damage, reading starts again at the next offset where a frame with a valid checksum
/// starts, so nothing after a damaged stretch is overlooked. Empty if the header is bad.
pub fn scan_log(bytes: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return out;
    }
    let mut pos = MAGIC.len();
    while pos < bytes.len() {
        match frame_at(bytes, pos) {
            Ok(len) => {
                let payload = &bytes[pos + RECORD_HEADER..pos + RECORD_HEADER + len];
                let (offset, size) = (pos as u64, (RECORD_HEADER + len) as u64);
                out.push(match LogRecord::decode(payload) {
                    Ok(record) => Segment::Record {
                        offset,
                        len: size,
                        record,
                    },
                    Err(reason) => Segment::Unreadable {
                        offset,
                        len: size,
                        reason: reason.to_string(),
                    },
                });
                pos += RECORD_HEADER + len;
            }
            Err(reason) => {
                let next = (pos + 1..bytes.len())
                    .find(|&q| frame_at(bytes, q).is_ok())
                    .unwrap_or(bytes.len());
                out.push(Segment::Damaged {
                    offset: pos as u64,
                    len: (next - pos) as u64,
                    reason: reason.to_string(),
                });
                pos = next;
            }
        }
    }
    out
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
    out.valid_len = MAGIC.len() as u64;
    let mut segments = scan_log(bytes).into_iter();
    while let Some(segment) = segments.next() {
        match segment {
            Segment::Record {
                offset,
                len,
                record,
            } => {
                out.records.push(record);
                out.valid_len = offset + len;
            }
            Segment::Unreadable { offset, reason, .. } => {
                out.unreadable = Some(format!("record at offset {offset}: {reason}"));
                break;
            }
            Segment::Damaged { len, reason, .. } => {
                let after: Vec<Segment> = segments.collect();
                if after.is_empty() {
                    out.torn = Some(reason);
                } else {
                    out.damaged = Some(damage_report(&reason, len, &after));
                }
                break;
            }
        }
    }
    out
}

/// Describes damage followed by whole records.
fn damage_report(reason: &str, len: u64, after: &[Segment]) -> String {
    let whole = after
        .iter()
        .filter(|s| matches!(s, Segment::Record { .. }))
        .count();
    let bytes: u64 = after.iter().map(|s| s.range().1).sum();
    format!(
        "{reason}: {len} damaged bytes, then {bytes} bytes holding {whole} whole records with \
         valid checksums (damage in the middle of the log, not a torn last record)"
    )
}

/// The live log, open for appending.
#[derive(Debug)]
pub struct WriteLog {
    dir: PathBuf,
    file: File,
    len: u64,
}

/// A failed operation on the live log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// It failed, and the log is back as it was before it: nothing of it stays, and appending
    /// may go on.
    #[error("{0}")]
    Undone(StoreError),
    /// It failed, and the log could not be brought back to its last good state: nothing more
    /// may be appended to it until an operator has looked (restart).
    #[error("{failed}; then the log could not be restored: {restore}")]
    Stuck {
        failed: StoreError,
        restore: StoreError,
    },
}

/// Records recovered at start-up, in order (rotated log first).
#[derive(Debug, Default)]
pub struct Recovered {
    pub records: Vec<LogRecord>,
    /// Bytes cut from torn tails, with the reasons and the files that keep them.
    pub cut: Vec<String>,
}

impl WriteLog {
    /// Opens the logs of a data directory: reads `writes.log.1` (if an interrupted compaction
    /// left it) and `writes.log`, cuts a torn tail off the live log (keeping the bytes in a new
    /// `writes.log.torn.N`), and opens it for appending (creating it if absent). Refuses, and
    /// changes nothing, when either log is damaged in the middle or holds an unreadable record.
    pub fn open(dir: &Path) -> Result<(WriteLog, Recovered), StoreError> {
        let mut recovered = Recovered::default();
        let rotated = dir.join(ROTATED_LOG_FILE);
        let path = dir.join(LOG_FILE);
        let rotated_contents = if rotated.exists() {
            Some(read_file(&rotated)?)
        } else {
            None
        };
        let contents = if path.exists() {
            Some(read_file(&path)?)
        } else {
            None
        };
        // Both are checked before anything is changed.
        for (p, c) in [(&rotated, &rotated_contents), (&path, &contents)] {
            if let Some(c) = c {
                refuse_damage(p, c)?;
            }
        }
        if let Some(c) = rotated_contents {
            // The rotated log was complete and fsynced when it was renamed: a torn tail there
            // is unacknowledged too, and nothing is ever appended to it again.
            recovered.take(&rotated, c, None);
        }
        // A log shorter than its header holds no record (logs are created whole, header
        // included, by a rename; this is for a file damaged otherwise): start it again.
        let contents = match contents {
            Some(c)
                if fs::metadata(&path).map_err(io("cannot stat", &path))?.len()
                    >= MAGIC.len() as u64 =>
            {
                c
            }
            _ => {
                create_empty(dir, &path)?;
                LogContents::default()
            }
        };
        let valid_len = contents.valid_len.max(MAGIC.len() as u64);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        let kept = if contents.torn.is_some() {
            Some(cut_tail(dir, &file, &path, valid_len)?)
        } else {
            None
        };
        recovered.take(&path, contents, kept);
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
    /// returns `Ok`, the records survive a crash or a power cut. When it fails, the log is cut
    /// back to its last good length and fsynced ([`LogError::Undone`]): none of the records
    /// stays, so a refused write is never replayed; if even that fails, [`LogError::Stuck`].
    pub fn append(&mut self, framed: &[u8]) -> Result<(), LogError> {
        match self.write_and_sync(framed) {
            Ok(()) => {
                self.len += framed.len() as u64;
                Ok(())
            }
            Err(failed) => match self.restore() {
                Ok(()) => Err(LogError::Undone(failed)),
                Err(restore) => Err(LogError::Stuck { failed, restore }),
            },
        }
    }

    fn write_and_sync(&mut self, framed: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join(LOG_FILE);
        use std::io::{Seek, SeekFrom};
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(io("cannot seek", &path))?;
        self.file
            .write_all(framed)
            .map_err(io("cannot append to", &path))?;
        // The file's size changes, so fdatasync writes that metadata too.
        self.file.sync_data().map_err(io("cannot fsync", &path))
    }

    /// Cuts the live log back to its last good length, durably.
    fn restore(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(LOG_FILE);
        self.file
            .set_len(self.len)
            .map_err(io("cannot truncate", &path))?;
        self.file.sync_all().map_err(io("cannot fsync", &path))
    }

    /// Whether a compaction left a rotated log behind.
    pub fn has_rotated(&self) -> bool {
        self.dir.join(ROTATED_LOG_FILE).exists()
    }

    /// Starts a compaction: the live log becomes `writes.log.1` and a fresh log is started.
    /// Fails if `writes.log.1` exists (a compaction is unfinished).
    ///
    /// The fresh log is created (and opened) before anything is renamed, so that a file
    /// system that refuses a new file (no space, no inode) leaves the logs as they were
    /// ([`LogError::Undone`]). If the fresh log cannot take the live log's name, the rename is
    /// undone; if that fails too ([`LogError::Stuck`]), the records appended so far are in
    /// `writes.log.1`, which start-up replays, and the caller must append nothing more. Never
    /// does the writer go on appending to the file a compaction will delete.
    pub fn rotate(&mut self) -> Result<(), LogError> {
        let live = self.dir.join(LOG_FILE);
        let rotated = self.dir.join(ROTATED_LOG_FILE);
        if rotated.exists() {
            return Err(LogError::Undone(StoreError::Io {
                action: "cannot rotate onto",
                path: rotated,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "an earlier compaction is unfinished",
                ),
            }));
        }
        let (tmp, fresh) = write_fresh(&self.dir).map_err(LogError::Undone)?;
        if let Err(e) = fs::rename(&live, &rotated) {
            let _ = fs::remove_file(&tmp);
            return Err(LogError::Undone(io("cannot rename", &live)(e)));
        }
        if let Err(e) = fs::rename(&tmp, &live) {
            let failed = io("cannot rename into", &live)(e);
            let _ = fs::remove_file(&tmp);
            return match fs::rename(&rotated, &live) {
                Ok(()) => Err(LogError::Undone(failed)),
                Err(e) => Err(LogError::Stuck {
                    failed,
                    restore: io("cannot rename back", &rotated)(e),
                }),
            };
        }
        // From here on the fresh log is the live one, whatever happens next.
        self.file = fresh;
        self.len = MAGIC.len() as u64;
        sync_dir(&self.dir).map_err(LogError::Undone)
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
    fn take(&mut self, path: &Path, contents: LogContents, kept: Option<PathBuf>) {
        if let Some(reason) = contents.torn {
            let kept = kept.map_or(String::new(), |k| {
                format!("; the cut bytes are kept in {}", k.display())
            });
            self.cut.push(format!("{}: {reason}{kept}", path.display()));
        }
        self.records.extend(contents.records);
    }
}

/// Start-up does not guess: an unreadable record or damage followed by whole records stops it,
/// every byte kept.
fn refuse_damage(path: &Path, contents: &LogContents) -> Result<(), StoreError> {
    if let Some(reason) = &contents.unreadable {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "{reason}; the log holds acknowledged writes, so the server does not start \
                 without them (`terriens log check --data DIR` describes the log, \
                 `terriens log salvage --data DIR` moves the unreadable bytes aside)"
            ),
        });
    }
    if let Some(reason) = &contents.damaged {
        return Err(StoreError::DamagedLog {
            path: path.to_path_buf(),
            reason: reason.clone(),
        });
    }
    Ok(())
}

/// Keeps the bytes after `valid_len` in a new file, then cuts them so appends follow whole
/// records.
fn cut_tail(dir: &Path, file: &File, path: &Path, valid_len: u64) -> Result<PathBuf, StoreError> {
    let mut all = Vec::new();
    let mut reader = file;
    reader
        .read_to_end(&mut all)
        .map_err(io("cannot read", path))?;
    let kept = save_aside(
        dir,
        "torn",
        all.get(valid_len as usize..).unwrap_or_default(),
    )?;
    file.set_len(valid_len)
        .map_err(io("cannot truncate", path))?;
    file.sync_all().map_err(io("cannot fsync", path))?;
    Ok(kept)
}

/// Writes `bytes` to a new file `writes.log.KIND.N` (N the first number not taken), fsynced
/// with its directory. Never overwrites an earlier file.
pub(crate) fn save_aside(dir: &Path, kind: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let mut n = 1u64;
    loop {
        let path = dir.join(format!("{LOG_FILE}.{kind}.{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(bytes).map_err(io("cannot write", &path))?;
                f.sync_all().map_err(io("cannot fsync", &path))?;
                sync_dir(dir)?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(io("cannot create", &path)(e)),
        }
    }
}

fn read_file(path: &Path) -> Result<LogContents, StoreError> {
    let bytes = fs::read(path).map_err(io("cannot read", path))?;
    Ok(read_log(&bytes))
}

/// A new empty log under a temporary name (header written and fsynced), open for appending.
/// On failure, nothing is left behind.
fn write_fresh(dir: &Path) -> Result<(PathBuf, File), StoreError> {
    let tmp = dir.join(format!(".{LOG_FILE}.tmp"));
    let written = (|| {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io("cannot create", &tmp))?;
        f.write_all(MAGIC).map_err(io("cannot write", &tmp))?;
        f.sync_all().map_err(io("cannot fsync", &tmp))?;
        Ok(f)
    })();
    match written {
        Ok(f) => Ok((tmp, f)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Creates an empty log atomically: a temporary file with the header, fsynced, renamed.
fn create_empty(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let (tmp, _) = write_fresh(dir)?;
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
            LogRecord {
                seq: 3,
                ops: vec![
                    Op::PutProject {
                        project: Project {
                            id: 4,
                            version: 2,
                            doc: json!({"name": "Bioraffinerie", "needs": {"land_min_ha": 5}})
                                .as_object()
                                .unwrap()
                                .clone(),
                        },
                    },
                    Op::DeleteProject { id: 3 },
                ],
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

    fn three() -> Vec<LogRecord> {
        (1..=3)
            .map(|seq| LogRecord {
                seq,
                ops: vec![Op::Put {
                    layer: Layer::WasteDeposits,
                    feature: deposit(seq, seq as f64),
                }],
            })
            .collect()
    }

    /// Damage in the middle, followed by whole records, is not a torn tail: reading stops
    /// there and says so, with the offset, so start-up can refuse instead of cutting.
    #[test]
    fn damage_in_the_middle_is_not_a_torn_tail() {
        let recs = three();
        let bytes = framed(&recs);
        let second = framed(&recs[..1]).len();
        for flip in [second, second + 3, second + 20] {
            let mut bad = bytes.clone();
            bad[flip] ^= 0x5a;
            let back = read_log(&bad);
            assert_eq!(back.records, recs[..1], "flip at {flip}");
            assert!(back.torn.is_none(), "flip at {flip}: {:?}", back.torn);
            let why = back.damaged.expect("damage reported");
            assert!(why.contains(&format!("offset {second}")), "{why}");
            assert!(why.contains("1 whole records"), "{why}");
        }
        // The same damage in the last record is a torn tail.
        let mut bad = bytes.clone();
        let last = framed(&recs[..2]).len();
        bad[last + 10] ^= 0x5a;
        let back = read_log(&bad);
        assert_eq!(back.records, recs[..2]);
        assert!(back.damaged.is_none() && back.torn.is_some());
    }

    /// The scan finds every whole record after damage, with exact ranges.
    #[test]
    fn scan_resumes_after_damage() {
        let recs = three();
        let bytes = framed(&recs);
        let b1 = framed(&recs[..1]).len() as u64;
        let b2 = framed(&recs[..2]).len() as u64;
        let mut bad = bytes.clone();
        bad[b1 as usize + 9] ^= 1;
        let segs = scan_log(&bad);
        assert_eq!(segs.len(), 3);
        assert!(matches!(&segs[0], Segment::Record { record, .. } if *record == recs[0]));
        assert_eq!(segs[1].range(), (b1, b2 - b1));
        assert!(matches!(&segs[1], Segment::Damaged { .. }));
        assert!(matches!(&segs[2], Segment::Record { record, .. } if *record == recs[2]));
    }

    #[test]
    fn open_refuses_a_damaged_log_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = framed(&three());
        let second = framed(&three()[..1]).len();
        bytes[second + 12] ^= 0x20;
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, &bytes).unwrap();
        let err = WriteLog::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("offset {second}")), "{err}");
        assert!(err.contains("terriens log salvage"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no file was added");
    }

    /// Each cut keeps its bytes in a new file; an earlier one is never overwritten.
    #[test]
    fn each_torn_tail_goes_to_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let good = framed(&three()[..1]);
        for (n, tail) in [&[9u8, 0, 0][..], &[7, 7, 7, 7, 7]].iter().enumerate() {
            let mut bytes = good.clone();
            bytes.extend_from_slice(tail);
            std::fs::write(&path, &bytes).unwrap();
            let (_, rec) = WriteLog::open(dir.path()).unwrap();
            assert_eq!(rec.records.len(), 1);
            let kept = dir.path().join(format!("{LOG_FILE}.torn.{}", n + 1));
            assert!(
                rec.cut[0].contains(&kept.display().to_string()),
                "{:?}",
                rec.cut
            );
            assert_eq!(std::fs::read(&path).unwrap(), good);
        }
        assert_eq!(
            std::fs::read(dir.path().join("writes.log.torn.1")).unwrap(),
            [9, 0, 0]
        );
        assert_eq!(
            std::fs::read(dir.path().join("writes.log.torn.2")).unwrap(),
            [7; 5]
        );
    }

    /// A rotation whose fresh log cannot be created changes nothing: the records go on to
    /// `writes.log`, never to a `writes.log.1` that a compaction would delete.
    #[test]
    fn rotation_that_cannot_create_the_fresh_log_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = WriteLog::open(dir.path()).unwrap();
        let recs = three();
        let mut buf = Vec::new();
        recs[0].encode(&mut buf);
        log.append(&buf).unwrap();
        // A directory where the fresh log's temporary file goes: creating it fails.
        std::fs::create_dir(dir.path().join(".writes.log.tmp")).unwrap();
        assert!(matches!(log.rotate(), Err(LogError::Undone(_))));
        assert!(!log.has_rotated());
        let mut buf = Vec::new();
        recs[1].encode(&mut buf);
        log.append(&buf).unwrap();
        drop(log);
        let (_, rec) = WriteLog::open(dir.path()).unwrap();
        assert_eq!(rec.records, recs[..2]);
        // Once the file system takes new files again, the rotation goes through.
        std::fs::remove_dir(dir.path().join(".writes.log.tmp")).unwrap();
        let (mut log, _) = WriteLog::open(dir.path()).unwrap();
        log.rotate().unwrap();
        assert!(log.has_rotated() && log.is_empty());
    }

    /// Restoring cuts whatever a failed append left after the last good end, durably.
    #[test]
    fn restore_cuts_a_failed_append() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = WriteLog::open(dir.path()).unwrap();
        let recs = three();
        let mut buf = Vec::new();
        recs[0].encode(&mut buf);
        log.append(&buf).unwrap();
        let good = log.len();
        // What a write that failed half way leaves: a whole record, then part of another.
        let mut partial = Vec::new();
        recs[1].encode(&mut partial);
        recs[2].encode(&mut partial);
        partial.truncate(partial.len() - 7);
        let path = dir.path().join(LOG_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&partial).unwrap();
        log.restore().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        drop(log);
        let (_, rec) = WriteLog::open(dir.path()).unwrap();
        assert_eq!(rec.records, recs[..1]);
        assert!(rec.cut.is_empty());
    }
}
