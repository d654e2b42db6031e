//! Who is asking, and what they may see.
//!
//! A request carries an [`Access`]: the role of its API key (none for anonymous requests) and
//! whether the key has the `partners` right. Waste deposits marked `confidentiality=partners`
//! are visible only to keys with that right (admins have every right). For everyone else they
//! are **left out entirely**, in every endpoint: not rounded, because a rounded position still
//! leaks through radius and nearest queries (the distances are computed on the exact position,
//! and a few queries trilaterate it), through tile features and through filter counts.
//!
//! The decision is [`Access::sees`] on a feature in row form; inside an index snapshot use
//! `index::Visibility`, which reads the same rule from the columns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Feature, Layer, Value, schema};

/// Roles of API keys, ordered: each one can do what the ones before can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads (and, with the `partners` right, confidential deposits).
    Reader,
    /// Reads and writes features.
    Editor,
    /// Everything, including operations (compaction) and every right.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Reader, Role::Editor, Role::Admin];

    pub const fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; roles are reader, editor, admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// The layer and field that carry the confidentiality mark, and the value that restricts.
pub const CONFIDENTIAL_LAYER: Layer = Layer::WasteDeposits;
pub const CONFIDENTIALITY_FIELD: &str = "confidentiality";
pub const CONFIDENTIAL_VALUE: &str = "partners";

/// What a request may do and see.
///
/// ```
/// use terriens::model::{Access, Role};
/// assert!(!Access::ANONYMOUS.partners());
/// assert!(Access::key(Role::Reader, true).partners());
/// assert!(Access::key(Role::Admin, false).partners());
/// assert!(Access::key(Role::Editor, false).has(Role::Reader));
/// assert!(!Access::key(Role::Reader, true).has(Role::Editor));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    role: Option<Role>,
    partners: bool,
}

impl Access {
    /// No key.
    pub const ANONYMOUS: Access = Access {
        role: None,
        partners: false,
    };

    /// A reader with the `partners` right: sees every feature and may change none. What the
    /// tiles' full visibility stands for.
    pub const PARTNER: Access = Access {
        role: Some(Role::Reader),
        partners: true,
    };

    /// A valid key of a role, with or without the `partners` right.
    pub const fn key(role: Role, partners: bool) -> Access {
        Access {
            role: Some(role),
            partners,
        }
    }

    /// The key's role; `None` for anonymous requests.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Whether the request has at least this role.
    pub fn has(&self, role: Role) -> bool {
        self.role.is_some_and(|r| r >= role)
    }

    /// Whether the request may see confidential (`partners`) waste deposits.
    pub fn partners(&self) -> bool {
        self.partners || self.role == Some(Role::Admin)
    }

    /// Whether the request may see this feature of this layer at all.
    pub fn sees(&self, layer: Layer, feature: &Feature) -> bool {
        self.partners() || !is_confidential(layer, feature)
    }
}

/// Whether a feature is a confidential waste deposit.
pub fn is_confidential(layer: Layer, feature: &Feature) -> bool {
    layer == CONFIDENTIAL_LAYER
        && matches!(
            feature.get(schema(layer), CONFIDENTIALITY_FIELD),
            Some(Value::Text(v)) if v == CONFIDENTIAL_VALUE
        )
}
