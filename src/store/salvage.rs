//! `terriens log check|salvage`: what to do with a write log that start-up refuses.
//!
//! Start-up cuts a torn tail on its own (the last record cut short by a crash was never
//! acknowledged), but it refuses a log damaged in the middle (bytes that are not a whole
//! record followed by whole records with valid checksums) or holding a record it cannot read:
//! guessing there could drop acknowledged writes. [`check_logs`] describes each log of a data
//! directory without changing anything; [`salvage_logs`] is the explicit way on: every stretch
//! that is not a whole record is copied to a new file `writes.log.damaged.N` (never
//! overwriting an earlier one), and the log is rewritten, atomically, with every whole record
//! in order. Nothing is thrown away: the damaged bytes stay on disk for an operator.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::log::{LOG_FILE, MAGIC, ROTATED_LOG_FILE, Segment, save_aside, scan_log};
use super::{StoreError, io, sync_dir};

/// What [`check_logs`] found in one log file.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// Whole records.
    pub records: usize,
    /// Stretches that are not whole records: (offset, length, reason).
    pub problems: Vec<(u64, u64, String)>,
    /// Whether start-up refuses this log (damage before a whole record, an unreadable record
    /// or a bad header); a torn tail alone is cut at start-up.
    pub refused: bool,
}

impl fmt::Display for LogReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match (self.refused, self.problems.is_empty()) {
            (true, _) => {
                "DAMAGED: the server does not start; `terriens log salvage` moves the damage aside"
            }
            (false, true) => "ok",
            (false, false) => "torn tail: start-up cuts it and keeps the bytes aside",
        };
        writeln!(
            f,
            "{}: {} bytes, {} whole records: {verdict}",
            self.path.display(),
            self.bytes,
            self.records
        )?;
        for (offset, len, reason) in &self.problems {
            writeln!(f, "  offset {offset}, {len} bytes: {reason}")?;
        }
        Ok(())
    }
}

/// The log files of a data directory, rotated first (the order of replay).
fn log_files(dir: &Path) -> Vec<PathBuf> {
    [ROTATED_LOG_FILE, LOG_FILE]
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.exists())
        .collect()
}

fn report(path: &Path, bytes: &[u8]) -> LogReport {
    let mut out = LogReport {
        path: path.to_path_buf(),
        bytes: bytes.len() as u64,
        records: 0,
        problems: Vec::new(),
        refused: false,
    };
    if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
        out.problems.push((
            0,
            bytes.len() as u64,
            "not a terriens write log (bad header)".into(),
        ));
        out.refused = true;
        return out;
    }
    let segments = scan_log(bytes);
    for (i, s) in segments.iter().enumerate() {
        let (offset, len) = s.range();
        match s {
            Segment::Record { .. } => out.records += 1,
            Segment::Unreadable { reason, .. } => {
                out.problems
                    .push((offset, len, format!("unreadable record: {reason}")));
                out.refused = true;
            }
            Segment::Damaged { reason, .. } => {
                out.problems.push((offset, len, reason.clone()));
                out.refused |= i + 1 < segments.len();
            }
        }
    }
    out
}

/// Describes every log of a data directory; changes nothing (a server may hold it).
pub fn check_logs(dir: &Path) -> Result<Vec<LogReport>, StoreError> {
    log_files(dir)
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).map_err(io("cannot read", &path))?;
            Ok(report(&path, &bytes))
        })
        .collect()
}

/// Moves every stretch of the logs that is not a whole record to a new
/// `writes.log.damaged.N` file and rewrites each such log with its whole records only.
/// Returns what was done, one line per action (also logged). The caller holds the data
/// directory's lock.
pub fn salvage_logs(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut done = Vec::new();
    for path in log_files(dir) {
        let bytes = fs::read(&path).map_err(io("cannot read", &path))?;
        let rep = report(&path, &bytes);
        if rep.problems.is_empty() || bytes.len() < MAGIC.len() {
            continue;
        }
        let mut kept = MAGIC.to_vec();
        let bad_header = &bytes[..MAGIC.len()] != MAGIC;
        let segments = if bad_header {
            Vec::new()
        } else {
            scan_log(&bytes)
        };
        let mut aside = |offset: u64, len: u64, reason: &str| -> Result<(), StoreError> {
            let range = &bytes[offset as usize..(offset + len) as usize];
            let file = save_aside(dir, "damaged", range)?;
            let line = format!(
                "{}: moved {len} bytes at offset {offset} ({reason}) to {}",
                path.display(),
                file.display()
            );
            tracing::warn!("{line}");
            done.push(line);
            Ok(())
        };
        if bad_header {
            aside(0, bytes.len() as u64, "bad header")?;
        }
        for s in &segments {
            let (offset, len) = s.range();
            match s {
                Segment::Record { .. } => {
                    kept.extend_from_slice(&bytes[offset as usize..(offset + len) as usize])
                }
                Segment::Unreadable { reason, .. } | Segment::Damaged { reason, .. } => {
                    aside(offset, len, reason)?
                }
            }
        }
        replace_file(dir, &path, &kept)?;
        let line = format!(
            "{}: rewritten with its {} whole records ({} bytes)",
            path.display(),
            rep.records,
            kept.len()
        );
        tracing::warn!("{line}");
        done.push(line);
    }
    Ok(done)
}

/// Replaces a file atomically: temporary file, fsync, rename, fsync of the directory.
fn replace_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!(".{LOG_FILE}.salvage.tmp"));
    {
        let mut f = fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
        f.write_all(bytes).map_err(io("cannot write", &tmp))?;
        f.sync_all().map_err(io("cannot fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("cannot rename into", path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layer;
    use crate::store::{LogRecord, Op, WriteLog};

    fn log_of(n: u64) -> (Vec<LogRecord>, Vec<u8>, Vec<usize>) {
        let recs: Vec<LogRecord> = (1..=n)
            .map(|seq| LogRecord {
                seq,
                ops: vec![Op::Delete {
                    layer: Layer::Plots,
                    id: seq * 10,
                }],
            })
            .collect();
        let mut bytes = MAGIC.to_vec();
        let mut starts = Vec::new();
        for r in &recs {
            starts.push(bytes.len());
            r.encode(&mut bytes);
        }
        (recs, bytes, starts)
    }

    #[test]
    fn check_tells_a_torn_tail_from_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, starts) = log_of(3);
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        let r = &check_logs(dir.path()).unwrap()[0];
        assert_eq!((r.records, r.refused), (2, false));
        assert_eq!(r.problems[0].0, starts[2] as u64);
        let mut bad = bytes.clone();
        bad[starts[1] + 4] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        let r = &check_logs(dir.path()).unwrap()[0];
        assert_eq!((r.records, r.refused), (2, true));
        assert_eq!(
            r.problems[0].0..r.problems[0].0 + r.problems[0].1,
            starts[1] as u64..starts[2] as u64
        );
        assert!(r.to_string().contains(&format!("offset {}", starts[1])));
    }

    /// Salvage keeps every whole record, puts the damaged bytes in a new file each time, and
    /// the log then opens.
    #[test]
    fn salvage_keeps_whole_records_and_the_damaged_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (recs, bytes, starts) = log_of(4);
        let path = dir.path().join(LOG_FILE);
        let mut bad = bytes.clone();
        bad[starts[1] + 9] ^= 0x11;
        std::fs::write(&path, &bad).unwrap();
        assert!(WriteLog::open(dir.path()).is_err());
        let done = salvage_logs(dir.path()).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        let aside = std::fs::read(dir.path().join("writes.log.damaged.1")).unwrap();
        assert_eq!(aside, bad[starts[1]..starts[2]]);
        let (_, rec) = WriteLog::open(dir.path()).unwrap();
        let want: Vec<_> = [0, 2, 3].iter().map(|&i| recs[i].clone()).collect();
        assert_eq!(rec.records, want);
        // A second damage, a second file: the first is kept as it was.
        let mut bad = std::fs::read(&path).unwrap();
        bad[starts[1] + 2] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        salvage_logs(dir.path()).unwrap();
        assert!(dir.path().join("writes.log.damaged.2").exists());
        assert_eq!(
            std::fs::read(dir.path().join("writes.log.damaged.1")).unwrap(),
            aside
        );
        assert!(salvage_logs(dir.path()).unwrap().is_empty());
    }
}
