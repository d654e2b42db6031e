//! A territory's data directory built from the national open data files
//! (`terriens territory build`): see [`build`] for the steps.

mod build;
mod discover;
mod locate;
mod report;

pub use build::{BuildOptions, Selection, TerritoryError, build};
pub use discover::{Discovered, Found, SourceKind, discover};
pub use locate::derive_location;
pub use report::report_text;
