//! API keys: a keys file holding only salted hashes, key creation, and constant-time checks.
//!
//! A key reads `trn_<id>_<secret>`: `id` (8 hex digits) finds the entry, `secret` (64 hex
//! digits, 256 random bits) is checked against `sha256(salt ‖ secret)` with a constant-time
//! comparison. A 256-bit secret cannot be guessed, so one fast hash is enough (no password
//! stretching needed), and the file reveals no key. `terriens keys add` prints a new key once.
//!
//! The file is TOML:
//!
//! ```toml
//! [[keys]]
//! id = "3fa9c0d2"
//! role = "editor"      # reader < editor < admin
//! partners = true      # may see confidential waste deposits
//! label = "prospection team"
//! salt = "…"           # hex
//! sha256 = "…"         # hex of sha256(salt ‖ secret)
//! created = "2026-11-26T05:00:00Z"
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::{Access, Role};

/// Why the keys file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot {action} the keys file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the keys file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no key with id `{0}` in the keys file")]
    NoSuchKey(String),
}

/// One entry of the keys file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub id: String,
    pub role: Role,
    #[serde(default)]
    pub partners: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub salt: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

/// The keys a server accepts.
#[derive(Debug, Default, Clone)]
pub struct KeyStore {
    by_id: HashMap<String, Checked>,
}

#[derive(Debug, Clone)]
struct Checked {
    access: Access,
    salt: Vec<u8>,
    digest: [u8; 32],
}

const PREFIX: &str = "trn_";

impl KeyStore {
    /// No keys: every request is anonymous.
    pub fn empty() -> KeyStore {
        KeyStore::default()
    }

    /// Reads a keys file. A missing file is an error: a server told to use keys must have them.
    pub fn load(path: &Path) -> Result<KeyStore, AuthError> {
        let file = read_file(path)?;
        let mut by_id = HashMap::new();
        for e in file.keys {
            let invalid = |reason: String| AuthError::Invalid {
                path: path.to_path_buf(),
                reason,
            };
            let salt =
                from_hex(&e.salt).ok_or_else(|| invalid(format!("key {}: bad salt", e.id)))?;
            let digest: [u8; 32] = from_hex(&e.sha256)
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| invalid(format!("key {}: bad sha256", e.id)))?;
            let checked = Checked {
                access: Access::key(e.role, e.partners),
                salt,
                digest,
            };
            if by_id.insert(e.id.clone(), checked).is_some() {
                return Err(invalid(format!("key id {} appears twice", e.id)));
            }
        }
        Ok(KeyStore { by_id })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The access a presented key grants, or `None` if it is not a valid key. The secret is
    /// compared in constant time, and a hash is computed even for an unknown id.
    pub fn verify(&self, presented: &str) -> Option<Access> {
        let (id, secret) = split_key(presented.trim())?;
        let entry = self.by_id.get(id);
        let dummy = Checked {
            access: Access::ANONYMOUS,
            salt: vec![0; 16],
            digest: [0; 32],
        };
        let c = entry.unwrap_or(&dummy);
        let digest = hash(&c.salt, secret);
        let equal: bool = digest.ct_eq(&c.digest).into();
        (equal && entry.is_some()).then_some(c.access)
    }
}

fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && !secret.is_empty()).then_some((id, secret))
}

fn hash(salt: &[u8], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn read_file(path: &Path) -> Result<KeysFile, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| AuthError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn write_file(path: &Path, file: &KeysFile) -> Result<(), AuthError> {
    let io = |action| {
        move |source| AuthError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let text = format!(
        "# terriens API keys: salted SHA-256 hashes only; managed by `terriens keys`.\n{}",
        toml::to_string(file).map_err(|e| AuthError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io("create"))?;
        f.write_all(text.as_bytes()).map_err(io("write"))?;
        f.sync_all().map_err(io("fsync"))?;
    }
    std::fs::rename(&tmp, path).map_err(io("replace"))
}

/// Creates a key, adds its hash to the keys file (created if absent) and returns the key, which
/// is stored nowhere else.
pub fn add_key(
    path: &Path,
    role: Role,
    partners: bool,
    label: Option<String>,
) -> Result<String, AuthError> {
    let mut file = if path.exists() {
        read_file(path)?
    } else {
        KeysFile::default()
    };
    let mut rng = rand::rng();
    let id = loop {
        let id = to_hex(&rng.next_u32().to_be_bytes());
        if !file.keys.iter().any(|k| k.id == id) {
            break id;
        }
    };
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let secret = to_hex(&secret);
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    file.keys.push(KeyEntry {
        id: id.clone(),
        role,
        partners,
        label,
        salt: to_hex(&salt),
        sha256: to_hex(&hash(&salt, &secret)),
        created: Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    });
    write_file(path, &file)?;
    Ok(format!("{PREFIX}{id}_{secret}"))
}

/// The entries of a keys file (hashes, no keys).
pub fn list_keys(path: &Path) -> Result<Vec<KeyEntry>, AuthError> {
    Ok(read_file(path)?.keys)
}

/// Removes a key by id.
pub fn remove_key(path: &Path, id: &str) -> Result<(), AuthError> {
    let mut file = read_file(path)?;
    let before = file.keys.len();
    file.keys.retain(|k| k.id != id);
    if file.keys.len() == before {
        return Err(AuthError::NoSuchKey(id.to_string()));
    }
    write_file(path, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_verify_and_the_file_holds_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let editor = add_key(&path, Role::Editor, false, Some("team".into())).unwrap();
        let partner = add_key(&path, Role::Reader, true, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let secret = editor.rsplit('_').next().unwrap();
        assert!(!text.contains(secret), "the file must not hold the key");
        let store = KeyStore::load(&path).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(
            store.verify(&editor),
            Some(Access::key(Role::Editor, false))
        );
        assert_eq!(
            store.verify(&partner),
            Some(Access::key(Role::Reader, true))
        );
        // One wrong character, a wrong id, garbage: no access.
        let mut wrong = editor.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert_eq!(store.verify(&wrong), None);
        assert_eq!(store.verify("trn_00000000_abcd"), None);
        assert_eq!(store.verify("Bearer"), None);
        assert_eq!(store.verify(""), None);
        let id = &editor[4..12];
        remove_key(&path, id).unwrap();
        assert_eq!(KeyStore::load(&path).unwrap().verify(&editor), None);
        assert!(matches!(
            remove_key(&path, id),
            Err(AuthError::NoSuchKey(_))
        ));
    }
}
