//! Bounded Dijkstra, one per request: from one or several sources at once, forwards ("from the
//! site", over out-edges) or backwards ("to the site", over in-edges, which is what commuters
//! driving to work do), stopping at the first label above the limit.
//!
//! Weights are integer milliseconds, so heap order is exact and results are reproducible
//! (fast_paths does the same). The labels live in a [`SearchState`] that is reused from
//! request to request: a generation counter marks which labels belong to the current search,
//! so starting a search costs nothing however large the graph (fast_paths'
//! `PathCalculator`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::direction::Direction;
use super::graph::RoadGraph;

/// The label of a node: its tentative or final time, and the search it belongs to.
#[derive(Debug, Clone, Copy, Default)]
struct Label {
    dist: u32,
    /// `2 × generation` while tentative, `2 × generation + 1` once settled; anything else: not
    /// reached by the current search. One array of both, so a relaxation touches one cache
    /// line.
    stamp: u32,
}

/// Labels of one search, reusable across searches on graphs of the same size.
#[derive(Debug, Clone)]
pub struct SearchState {
    labels: Vec<Label>,
    generation: u32,
    /// (dist << 32 | node), smallest first.
    heap: BinaryHeap<Reverse<u64>>,
    settled: Vec<u32>,
    limit_ms: u32,
}

impl SearchState {
    /// State for a graph of `nodes` nodes.
    pub fn new(nodes: usize) -> SearchState {
        SearchState {
            labels: vec![Label::default(); nodes],
            generation: 0,
            heap: BinaryHeap::new(),
            settled: Vec::new(),
            limit_ms: 0,
        }
    }

    fn start(&mut self, nodes: usize, limit_ms: u32) {
        if self.labels.len() != nodes {
            *self = SearchState::new(nodes);
        }
        if self.generation >= u32::MAX / 2 - 1 {
            self.labels.fill(Label::default());
            self.generation = 0;
        }
        self.generation += 1;
        self.heap.clear();
        self.settled.clear();
        self.limit_ms = limit_ms;
    }

    /// Final travel time to a settled node, ms (`None` when beyond the limit or unreachable).
    #[inline]
    pub fn time_ms(&self, node: u32) -> Option<u32> {
        let l = self.labels[node as usize];
        (l.stamp == 2 * self.generation + 1).then_some(l.dist)
    }

    /// Settled nodes, in order of travel time.
    pub fn settled(&self) -> &[u32] {
        &self.settled
    }

    /// The limit of the last search, ms.
    pub fn limit_ms(&self) -> u32 {
        self.limit_ms
    }
}

/// Runs Dijkstra from `sources` ((node, initial time ms) pairs) until every node within
/// `limit_ms` is settled. Afterwards `state.time_ms(v)` is the exact shortest travel time for
/// every v with a time ≤ `limit_ms`, and `None` for the others — unless the work is cancelled
/// ([`crate::cancel`]), which stops it early with some labels missing.
pub fn search(
    graph: &RoadGraph,
    state: &mut SearchState,
    sources: &[(u32, u32)],
    direction: Direction,
    limit_ms: u32,
) {
    state.start(graph.node_count(), limit_ms);
    let tentative = 2 * state.generation;
    let settled = tentative + 1;
    let labels = &mut state.labels;
    for &(v, t) in sources {
        let Some(l) = labels.get_mut(v as usize) else {
            continue;
        };
        if t > limit_ms {
            continue;
        }
        if l.stamp != tentative || t < l.dist {
            *l = Label {
                dist: t,
                stamp: tentative,
            };
            state
                .heap
                .push(Reverse((u64::from(t) << 32) | u64::from(v)));
        }
    }
    while let Some(Reverse(key)) = state.heap.pop() {
        // An abandoned request stops here; its caller discards the partial labels.
        if state.settled.len().is_multiple_of(4096) && crate::cancel::cancelled() {
            break;
        }
        let d = (key >> 32) as u32;
        let u = key as u32;
        let lu = &mut labels[u as usize];
        if lu.stamp != tentative || d != lu.dist {
            continue;
        }
        lu.stamp = settled;
        state.settled.push(u);
        for e in graph.edges(u, direction) {
            let nd = d.saturating_add(e.weight_ms);
            if nd > limit_ms {
                continue;
            }
            let lv = &mut labels[e.head as usize];
            if lv.stamp == settled {
                continue;
            }
            if lv.stamp != tentative || nd < lv.dist {
                *lv = Label {
                    dist: nd,
                    stamp: tentative,
                };
                state
                    .heap
                    .push(Reverse((u64::from(nd) << 32) | u64::from(e.head)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::graph::BuildOptions;
    use crate::routing::network::RawNetwork;
    use crate::routing::profile::{Oneway, ProfileId, RoadClass, WayAttrs};
    use rand::{Rng, SeedableRng};

    /// Naive Dijkstra: scan every node for the smallest tentative label.
    fn naive(graph: &RoadGraph, src: u32, direction: Direction) -> Vec<Option<u64>> {
        let n = graph.node_count();
        let mut dist: Vec<Option<u64>> = vec![None; n];
        let mut done = vec![false; n];
        dist[src as usize] = Some(0);
        loop {
            let next = (0..n)
                .filter(|&v| !done[v])
                .filter_map(|v| dist[v].map(|d| (d, v)))
                .min();
            let Some((d, u)) = next else { break };
            done[u] = true;
            for e in graph.edges(u as u32, direction) {
                let nd = d + u64::from(e.weight_ms);
                let slot = &mut dist[e.head as usize];
                if slot.is_none_or(|old| nd < old) {
                    *slot = Some(nd);
                }
            }
        }
        dist
    }

    #[test]
    fn matches_naive_dijkstra_on_seeded_random_graphs() {
        let seed = 5_2025;
        println!("seed {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut state = SearchState::new(0);
        for _ in 0..20 {
            let mut net = RawNetwork::new("random");
            let n = rng.random_range(2..60);
            for _ in 0..n {
                net.push_node(rng.random_range(1.0..1.05), rng.random_range(49.0..49.05));
            }
            for _ in 0..rng.random_range(1..n * 3) {
                let a = rng.random_range(0..n) as u32;
                let b = rng.random_range(0..n) as u32;
                let mut attrs = WayAttrs::new(RoadClass::ALL[rng.random_range(0..15)]);
                attrs.oneway =
                    [Oneway::Both, Oneway::Forward, Oneway::Backward][rng.random_range(0..3)];
                net.push_way(vec![a, b], attrs);
            }
            let opts = BuildOptions {
                island_max_nodes: 0,
            };
            let Ok(graph) = RoadGraph::build(&net, ProfileId::Car, &opts) else {
                continue;
            };
            for direction in [Direction::From, Direction::To] {
                let src = rng.random_range(0..graph.node_count()) as u32;
                let limit = rng.random_range(0..2_000_000u32);
                search(&graph, &mut state, &[(src, 0)], direction, limit);
                let want = naive(&graph, src, direction);
                for (v, w) in want.iter().enumerate() {
                    let expect = w.filter(|&d| d <= u64::from(limit)).map(|d| d as u32);
                    assert_eq!(state.time_ms(v as u32), expect, "node {v} {direction}");
                }
                assert!(
                    state
                        .settled()
                        .windows(2)
                        .all(|w| { state.time_ms(w[0]) <= state.time_ms(w[1]) })
                );
            }
        }
    }

    #[test]
    fn generation_wraps_without_stale_labels() {
        let mut net = RawNetwork::new("t");
        let a = net.push_node(1.0, 49.0);
        let b = net.push_node(1.001, 49.0);
        net.push_way(vec![a, b], WayAttrs::new(RoadClass::Primary));
        let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
        let mut state = SearchState::new(g.node_count());
        search(&g, &mut state, &[(0, 0)], Direction::From, u32::MAX);
        assert!(state.time_ms(1).is_some());
        state.generation = u32::MAX / 2 - 1;
        search(&g, &mut state, &[(0, 0)], Direction::From, 0);
        assert_eq!(state.time_ms(0), Some(0));
        assert_eq!(state.time_ms(1), None, "a label from an old search leaked");
    }
}
