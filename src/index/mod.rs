//! In-memory indexes: one R-tree per layer with the attributes held in columns beside it, and
//! the immutable snapshot of all layers that queries read, through a [`View`] bound to the
//! caller.

mod chunked;
pub mod cql2;
mod filter;
mod forest;
mod layer_data;
mod snapshot;
pub mod source_attrs;
mod view;
mod visibility;

pub use chunked::{CHUNK, Chunked};
pub use filter::{Cond, Condition, ExtraCondition, Filter, FilterError, filterable_names};
pub use forest::{Forest, TREE_ENTRIES};
pub use layer_data::{Column, Entry, LayerBuilder, LayerData, RowChanges, TextColumn, ValueRef};
pub use snapshot::{SharedSnapshot, Snapshot};
pub use source_attrs::{AttrType, SourceAttr, SourceAttrs};
pub use view::{LayerView, View, VisibleFilter};
pub use visibility::Extent;
