//! Who is asking, and what they may see.
//!
//! A request carries an [`Access`]: the role of its API key (none for anonymous requests) and
//! whether the key has the `partners` right. Waste deposits marked `confidentiality=partners`
//! are visible only to keys with that right (admins have every right). For everyone else they
//! are **left out entirely**, in every endpoint: not rounded, because a rounded position still
//! leaks through radius and nearest queries (the distances are computed on the exact position,
//! and a few queries trilaterate it), through tile features and through filter counts.
//! Stored projects are for the `partners` right unless marked `public`
//! ([`Audience::sees_project`]).
//!
//! The rule itself is [`Audience::sees`]: one function of the caller's audience, the layer and
//! the row's confidentiality value. [`Access::sees`] applies it to a feature in row form; inside
//! an index snapshot every read goes through `index::View`, which applies it to the columns.

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

    /// A reader with the `partners` right: sees every feature and may change none.
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

    /// Which rows the request may see.
    pub fn audience(&self) -> Audience {
        if self.partners() {
            Audience::Full
        } else {
            Audience::Public
        }
    }

    /// Whether the request may see this stored project at all.
    pub fn sees_project(&self, project: &super::Project) -> bool {
        self.audience().sees_project(project.confidentiality())
    }

    /// Whether the request may see this feature of this layer at all.
    pub fn sees(&self, layer: Layer, feature: &Feature) -> bool {
        self.audience().sees(layer, confidentiality(layer, feature))
    }
}

/// Which rows a caller may see: all of them (callers with the `partners` right) or the public
/// ones. All that reads need to know of an [`Access`]; part of tile cache keys.
///
/// ```
/// use terriens::model::{Access, Audience, Layer, Role};
/// assert_eq!(Access::ANONYMOUS.audience(), Audience::Public);
/// assert_eq!(Access::key(Role::Admin, false).audience(), Audience::Full);
/// assert!(!Audience::Public.sees(Layer::WasteDeposits, Some("partners")));
/// assert!(Audience::Public.sees(Layer::WasteDeposits, Some("public")));
/// assert!(Audience::Full.sees(Layer::WasteDeposits, Some("partners")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Audience {
    /// Every row.
    #[default]
    Full,
    /// The rows everyone may see.
    Public,
}

impl Audience {
    /// THE confidentiality rule: whether this audience may see a row of `layer` whose
    /// confidentiality field holds `confidentiality`. Every other check (row form, columns,
    /// counts, extents, tiles) calls this.
    #[inline]
    pub fn sees(self, layer: Layer, confidentiality: Option<&str>) -> bool {
        self == Audience::Full
            || layer != CONFIDENTIAL_LAYER
            || confidentiality != Some(CONFIDENTIAL_VALUE)
    }

    /// Whether this audience may see a stored project: projects are for the `partners` right
    /// unless marked `public` (prospection is confidential).
    #[inline]
    pub fn sees_project(self, confidentiality: &str) -> bool {
        self == Audience::Full || confidentiality == super::PROJECT_CONFIDENTIALITY[1]
    }

    /// Whether some rows of `layer` may be hidden from this audience (false: no per-row check
    /// is needed).
    pub fn restricts(self, layer: Layer) -> bool {
        self == Audience::Public && layer == CONFIDENTIAL_LAYER
    }

    /// A short name, for cache keys.
    pub const fn key(self) -> &'static str {
        match self {
            Audience::Full => "full",
            Audience::Public => "public",
        }
    }
}

/// The confidentiality value of a feature, if its layer has the field.
fn confidentiality(layer: Layer, feature: &Feature) -> Option<&str> {
    match feature.get(schema(layer), CONFIDENTIALITY_FIELD) {
        Some(Value::Text(v)) => Some(v),
        _ => None,
    }
}

/// Whether a feature is a confidential waste deposit (hidden from the public audience).
pub fn is_confidential(layer: Layer, feature: &Feature) -> bool {
    !Audience::Public.sees(layer, confidentiality(layer, feature))
}
