//! The published state: one immutable [`Snapshot`] of every layer, shared through an `Arc`.
//! Readers take the current snapshot without locking; a writer builds a new one and swaps it in,
//! so readers never wait for writers.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{LayerData, View};
use crate::model::{Access, Layer, Projects};

/// Every layer at one data generation.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Incremented by every change of data; part of tile cache keys, ETags and TileJSON
    /// `version`.
    pub generation: u64,
    layers: [Arc<LayerData>; 5],
    /// The stored projects (every one, whoever may see it; readers filter by
    /// `Access::sees_project`).
    pub projects: Projects,
}

impl Snapshot {
    /// A snapshot of the given layers; layers not given are empty.
    pub fn new(generation: u64, layers: impl IntoIterator<Item = LayerData>) -> Snapshot {
        let mut slots: [Arc<LayerData>; 5] = Layer::ALL.map(|l| Arc::new(LayerData::empty(l)));
        for data in layers {
            let i = data.layer().index();
            slots[i] = Arc::new(data);
        }
        Snapshot {
            generation,
            layers: slots,
            projects: Projects::new(),
        }
    }

    /// This snapshot as `access` sees it: the way every caller-facing read starts.
    pub fn view(&self, access: &Access) -> View<'_> {
        View::new(self, access.audience())
    }

    /// One layer, every row whoever may see it: for the server's own work (writes,
    /// preparation, routing caches). Caller-facing reads go through [`Snapshot::view`].
    pub fn layer(&self, layer: Layer) -> &Arc<LayerData> {
        &self.layers[layer.index()]
    }

    /// A copy of this snapshot with one layer replaced and the generation moved on.
    pub fn with_layer(&self, data: Arc<LayerData>) -> Snapshot {
        let mut next = self.clone();
        let i = data.layer().index();
        next.layers[i] = data;
        next.generation = self.generation + 1;
        next
    }

    /// A copy of this snapshot with several layers replaced and the generation moved on by one
    /// (one write touching two layers is one change of data).
    pub fn with_layers(&self, layers: impl IntoIterator<Item = Arc<LayerData>>) -> Snapshot {
        let mut next = self.clone();
        for data in layers {
            let i = data.layer().index();
            next.layers[i] = data;
        }
        next.generation = self.generation + 1;
        next
    }

    /// Every layer, in [`Layer::ALL`] order.
    pub fn layers(&self) -> impl Iterator<Item = &Arc<LayerData>> {
        self.layers.iter()
    }
}

/// The current snapshot, swappable without blocking readers.
#[derive(Debug)]
pub struct SharedSnapshot(ArcSwap<Snapshot>);

impl SharedSnapshot {
    pub fn new(s: Snapshot) -> SharedSnapshot {
        SharedSnapshot(ArcSwap::from_pointee(s))
    }

    /// The current snapshot. Cheap; hold it for the duration of one request.
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Publishes a new snapshot.
    pub fn publish(&self, s: Snapshot) {
        self.0.store(Arc::new(s));
    }
}
