//! The k features nearest to a point, by geodesic distance, among the admitted rows.
//!
//! Best-first search over the layer's R-tree forest (Hjaltason & Samet), every tree's root in
//! one heap: a min-heap holds nodes keyed by a
//! lower bound of their distance ([`box_lower_bound_m`]), polygon entries keyed the same way,
//! and measured features keyed by their distance. A measured feature that reaches the top of
//! the heap is nearer than anything left, so it is the next result. Rows the filter rejects
//! are dropped when their node is opened, so a selective filter still yields k results when k
//! rows match.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use geo_types::Point;
use rstar::RTreeNode;
use rstar::{ParentNode, RTreeObject};

use super::distance::{box_lower_bound_m, distance_to_geometry_m};
use super::hit::{Hit, Selector};
use crate::geo_util::andoyer_distance_m;
use crate::index::Entry;

enum Item<'a> {
    Node(&'a ParentNode<Entry>),
    /// A polygon entry not measured yet; its key is a lower bound.
    Entry(&'a Entry, Option<f64>),
    Measured(Hit),
}

struct Queued<'a> {
    key: f64,
    /// Feature id for measured items (ties break by id), else 0.
    tie: u64,
    item: Item<'a>,
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued<'_> {}
impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued<'_> {
    /// Reversed: `BinaryHeap` is a max-heap and we want the least key first; at equal keys,
    /// unmeasured items first (they may hold an equally near feature), then the smaller id.
    fn cmp(&self, other: &Self) -> Ordering {
        let rank = |q: &Queued| matches!(q.item, Item::Measured(_)) as u8;
        other
            .key
            .total_cmp(&self.key)
            .then_with(|| rank(other).cmp(&rank(self)))
            .then_with(|| other.tie.cmp(&self.tie))
    }
}

/// The `k` admitted features nearest to `centre`, nearest first, no farther than `within_m`.
pub fn knn(select: &Selector, centre: Point<f64>, k: usize, within_m: Option<f64>) -> Vec<Hit> {
    let data = select.data();
    let mut out = Vec::with_capacity(k.min(data.len()));
    if k == 0 || data.is_empty() {
        return out;
    }
    let max = within_m.unwrap_or(f64::INFINITY);
    let mut heap = BinaryHeap::new();
    // Every tree's root of the layer's forest, keyed by its lower bound like any node.
    for tree in data.forest().trees() {
        let root = tree.root();
        let key = box_lower_bound_m(centre, aabb(&root.envelope()));
        if key <= max {
            heap.push(Queued {
                key,
                tie: 0,
                item: Item::Node(root),
            });
        }
    }
    while let Some(Queued { item, .. }) = heap.pop() {
        match item {
            Item::Measured(hit) => {
                out.push(hit);
                if out.len() == k {
                    break;
                }
            }
            Item::Entry(e, drive_s) => {
                let d = distance_to_geometry_m(centre, data.geometry(e.data));
                if d <= max {
                    let hit = Selector::hit(data, e.data, Some(d), drive_s);
                    heap.push(Queued {
                        key: d,
                        tie: hit.id,
                        item: Item::Measured(hit),
                    });
                }
            }
            Item::Node(node) => {
                for child in node.children() {
                    match child {
                        RTreeNode::Parent(p) => {
                            let key = box_lower_bound_m(centre, aabb(&p.envelope()));
                            if key <= max {
                                heap.push(Queued {
                                    key,
                                    tie: 0,
                                    item: Item::Node(p),
                                });
                            }
                        }
                        RTreeNode::Leaf(e) => {
                            let Some(drive_s) = select.admit(e.data) else {
                                continue;
                            };
                            let env = e.geom();
                            let (lo, hi) = (env.lower(), env.upper());
                            if lo == hi {
                                let d = andoyer_distance_m(centre, Point::new(lo[0], lo[1]));
                                if d <= max {
                                    let hit = Selector::hit(data, e.data, Some(d), drive_s);
                                    heap.push(Queued {
                                        key: d,
                                        tie: hit.id,
                                        item: Item::Measured(hit),
                                    });
                                }
                            } else {
                                let key = box_lower_bound_m(centre, aabb(&env.envelope()));
                                if key <= max {
                                    heap.push(Queued {
                                        key,
                                        tie: 0,
                                        item: Item::Entry(e, drive_s),
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn aabb(e: &rstar::AABB<[f64; 2]>) -> [f64; 4] {
    let (lo, hi) = (e.lower(), e.upper());
    [lo[0], lo[1], hi[0], hi[1]]
}
