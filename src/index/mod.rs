//! In-memory indexes: one R-tree per layer with the attributes held in columns beside it, and
//! the immutable snapshot of all layers that queries read.

mod filter;
mod layer_data;
mod snapshot;

pub use filter::{Cond, Condition, Filter, FilterError, filterable_names};
pub use layer_data::{Column, Entry, LayerData, ValueRef};
pub use snapshot::{SharedSnapshot, Snapshot};
