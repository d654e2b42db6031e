//! The road graph of one profile, in compact arrays.
//!
//! Build steps ([`RoadGraph::build`]): guess built-up areas from the road density
//! ([`super::urban_density`]); turn every pair of consecutive way nodes into a *segment* with
//! a weight per direction from the profile (integer milliseconds, [`NO_EDGE`] where the
//! direction is closed); keep the nodes segments use and number them along a Hilbert curve,
//! so that nodes near on the map are near in memory; then build forward and reverse adjacency
//! in CSR form (an offsets array and one array of [`Edge`]s) and flag islands
//! ([`super::islands`]).
//!
//! Every OSM node of a road is a graph node (shape points included): segments are straight,
//! which keeps interpolation along edges and snapping exact and simple.

use super::direction::Direction;
use super::error::{GraphPartsError, NetworkDefect, RoutingError};
use super::islands::islands;
use super::network::RawNetwork;
use super::profile::{Profile, ProfileId, RoadClass};
use super::urban_density::urban_density;
use crate::geo_util::{hilbert_d, metres_per_degree};

/// Weight of a closed direction.
pub const NO_EDGE: u32 = u32::MAX;

/// One directed edge in a CSR array: the node it leads to (in the search direction) and its
/// weight in milliseconds. Eight bytes, so that the Dijkstra loop reads as little as it can;
/// the segment each edge runs along is in a parallel array ([`RoadGraph::edge_segments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub head: u32,
    pub weight_ms: u32,
}

/// One straight piece of road between two nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Nodes in digitised order.
    pub nodes: [u32; 2],
    /// Weight from `nodes[0]` to `nodes[1]` and back, milliseconds ([`NO_EDGE`] if closed).
    pub weight_ms: [u32; 2],
    pub length_m: f32,
    pub class: RoadClass,
}

/// How to build a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Strongly connected components smaller than this are islands (see [`super::islands`]).
    pub island_max_nodes: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            island_max_nodes: 200,
        }
    }
}

/// The road graph of one profile. Immutable once built.
#[derive(Debug, Clone)]
pub struct RoadGraph {
    pub(crate) profile: ProfileId,
    pub(crate) source: String,
    pub(crate) island_max_nodes: usize,
    /// Node positions, 1e-7 degrees.
    pub(crate) lon_e7: Vec<i32>,
    pub(crate) lat_e7: Vec<i32>,
    pub(crate) segments: Vec<Segment>,
    fwd_first: Vec<u32>,
    fwd: Vec<Edge>,
    fwd_seg: Vec<u32>,
    bwd_first: Vec<u32>,
    bwd: Vec<Edge>,
    bwd_seg: Vec<u32>,
    island: Vec<bool>,
    max_segment_m: f64,
}

impl RoadGraph {
    /// Builds the graph of a profile from a network, in the steps of the module doc: check
    /// the network, make the profile's segments, number the nodes they use along a Hilbert
    /// curve, then assemble adjacency and islands ([`RoadGraph::from_parts`]).
    pub fn build(
        net: &RawNetwork,
        profile: ProfileId,
        opts: &BuildOptions,
    ) -> Result<RoadGraph, RoutingError> {
        let bad = |reason: NetworkDefect| RoutingError::BadNetwork {
            source_name: net.source.clone(),
            reason,
        };
        check_network(net).map_err(bad)?;
        let mut segments = profile_segments(net, profile);
        if segments.is_empty() {
            return Err(RoutingError::EmptyNetwork {
                source_name: net.source.clone(),
                profile,
                ways: net.ways.len() + net.ways_skipped,
            });
        }
        let order = hilbert_order(net, &segments);
        let (lon_e7, lat_e7) = renumber(net, &order, &mut segments);
        RoadGraph::from_parts(
            profile,
            net.source.clone(),
            opts.island_max_nodes,
            lon_e7,
            lat_e7,
            segments,
        )
        .map_err(|e| bad(e.into()))
    }

    /// Assembles a graph from nodes and segments (checked), building adjacency and islands.
    pub(crate) fn from_parts(
        profile: ProfileId,
        source: String,
        island_max_nodes: usize,
        lon_e7: Vec<i32>,
        lat_e7: Vec<i32>,
        segments: Vec<Segment>,
    ) -> Result<RoadGraph, GraphPartsError> {
        check_parts(&lon_e7, &lat_e7, &segments)?;
        let n = lon_e7.len();
        let fwd_arcs = forward_arcs(&segments);
        let bwd_arcs = reversed_arcs(&fwd_arcs);
        let (fwd_first, fwd, fwd_seg) = csr(n, fwd_arcs);
        let (bwd_first, bwd, bwd_seg) = csr(n, bwd_arcs);
        let island = islands(&fwd_first, |i| fwd[i].head, island_max_nodes);
        let max_segment_m = segments
            .iter()
            .fold(0.0f64, |m, s| m.max(f64::from(s.length_m)));
        Ok(RoadGraph {
            profile,
            source,
            island_max_nodes,
            lon_e7,
            lat_e7,
            segments,
            fwd_first,
            fwd,
            fwd_seg,
            bwd_first,
            bwd,
            bwd_seg,
            island,
            max_segment_m,
        })
    }

    pub fn profile(&self) -> ProfileId {
        self.profile
    }

    /// Where the graph was built from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn node_count(&self) -> usize {
        self.lon_e7.len()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Directed edges (each open direction of a segment).
    pub fn edge_count(&self) -> usize {
        self.fwd.len()
    }

    /// Position of a node, (lon, lat).
    pub fn lonlat(&self, node: u32) -> [f64; 2] {
        let i = node as usize;
        [
            f64::from(self.lon_e7[i]) / 1e7,
            f64::from(self.lat_e7[i]) / 1e7,
        ]
    }

    /// Position of a node in 1e-7 degrees, (lon, lat), as stored.
    #[inline]
    pub fn lon_lat_e7(&self, node: u32) -> [i32; 2] {
        let i = node as usize;
        [self.lon_e7[i], self.lat_e7[i]]
    }

    /// Every node's longitude and latitude, 1e-7 degrees.
    pub fn positions_e7(&self) -> (&[i32], &[i32]) {
        (&self.lon_e7, &self.lat_e7)
    }

    /// The edges leaving a node in the search direction: out-edges for [`Direction::From`],
    /// in-edges (reversed) for [`Direction::To`].
    #[inline]
    pub fn edges(&self, node: u32, direction: Direction) -> &[Edge] {
        let i = node as usize;
        let (first, arr) = match direction {
            Direction::From => (&self.fwd_first, &self.fwd),
            Direction::To => (&self.bwd_first, &self.bwd),
        };
        &arr[first[i] as usize..first[i + 1] as usize]
    }

    /// The segments of [`RoadGraph::edges`], in the same order.
    #[inline]
    pub fn edge_segments(&self, node: u32, direction: Direction) -> &[u32] {
        let i = node as usize;
        let (first, arr) = match direction {
            Direction::From => (&self.fwd_first, &self.fwd_seg),
            Direction::To => (&self.bwd_first, &self.bwd_seg),
        };
        &arr[first[i] as usize..first[i + 1] as usize]
    }

    /// Length of the longest segment, metres.
    pub fn max_segment_m(&self) -> f64 {
        self.max_segment_m
    }

    pub fn segment(&self, seg: u32) -> &Segment {
        &self.segments[seg as usize]
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether a node lies on an island (see [`super::islands`]).
    pub fn is_island(&self, node: u32) -> bool {
        self.island[node as usize]
    }

    /// Number of island nodes.
    pub fn island_nodes(&self) -> usize {
        self.island.iter().filter(|&&x| x).count()
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` of the nodes.
    pub fn bbox(&self) -> [f64; 4] {
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for (&x, &y) in self.lon_e7.iter().zip(&self.lat_e7) {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        [x0, y0, x1, y1].map(|v| f64::from(v) / 1e7)
    }

    /// Memory held by the graph's arrays, bytes.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.lon_e7.capacity() * 4
            + self.lat_e7.capacity() * 4
            + self.segments.capacity() * size_of::<Segment>()
            + (self.fwd_first.capacity() + self.bwd_first.capacity()) * 4
            + (self.fwd.capacity() + self.bwd.capacity()) * size_of::<Edge>()
            + (self.fwd_seg.capacity() + self.bwd_seg.capacity()) * 4
            + self.island.capacity()
    }

    /// Every directed edge as (tail, head, weight ms), in the forward direction: what an
    /// independent shortest-path implementation needs.
    pub fn edge_list(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        (0..self.node_count() as u32).flat_map(move |u| {
            self.edges(u, Direction::From)
                .iter()
                .map(move |e| (u, e.head, e.weight_ms))
        })
    }
}

/// Length of a short segment, metres: the local scale of the ellipsoid at its middle latitude
/// (exact to well under a millimetre for segments of a few kilometres).
pub fn segment_length_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (m_lat, m_lon) = metres_per_degree((a[1] + b[1]) / 2.0);
    ((b[0] - a[0]) * m_lon).hypot((b[1] - a[1]) * m_lat)
}

/// Travel time over a length at a speed, rounded to the millisecond; [`NO_EDGE`] for speed 0.
pub fn weight_ms(length_m: f64, kmh: f64) -> u32 {
    if kmh <= 0.0 {
        return NO_EDGE;
    }
    let ms = (length_m / (kmh / 3.6) * 1000.0).round();
    ms.clamp(0.0, f64::from(NO_EDGE - 1)) as u32
}

/// Refuses a network whose ways point past its node list or whose nodes are not finite.
fn check_network(net: &RawNetwork) -> Result<(), NetworkDefect> {
    let n = net.lonlat.len();
    if let Some(w) = net
        .ways
        .iter()
        .find(|w| w.nodes.iter().any(|&v| v as usize >= n))
    {
        return Err(NetworkDefect::NodeOutOfRange {
            max: w.nodes.iter().max().copied(),
            nodes: n,
        });
    }
    if net
        .lonlat
        .iter()
        .any(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(NetworkDefect::NonFiniteCoordinate);
    }
    Ok(())
}

/// Every pair of consecutive way nodes the profile may drive, as a segment with a weight per
/// direction (the profile's speeds, urban where the road density says built-up), in input
/// order and numbered as in the network.
fn profile_segments(net: &RawNetwork, profile: ProfileId) -> Vec<Segment> {
    let density = urban_density(net);
    let vehicle = Profile::get(profile);
    let mut segments: Vec<Segment> = Vec::new();
    for way in &net.ways {
        for pair in way.nodes.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a == b {
                continue;
            }
            let (pa, pb) = (net.lonlat[a as usize], net.lonlat[b as usize]);
            let urban = density.is_urban((pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0);
            let speeds = vehicle.speeds_kmh(&way.attrs, Some(urban));
            if speeds == [0.0, 0.0] {
                continue;
            }
            let length_m = segment_length_m(pa, pb);
            segments.push(Segment {
                nodes: [a, b],
                weight_ms: speeds.map(|kmh| weight_ms(length_m, kmh)),
                length_m: length_m as f32,
                class: way.attrs.class,
            });
        }
    }
    segments
}

/// The network nodes the segments use, in Hilbert order over their bounding box (ties by
/// index): entry `i` is the network index of graph node `i`.
fn hilbert_order(net: &RawNetwork, segments: &[Segment]) -> Vec<u32> {
    let mut used = vec![false; net.lonlat.len()];
    for s in segments {
        used[s.nodes[0] as usize] = true;
        used[s.nodes[1] as usize] = true;
    }
    let mut order: Vec<u32> = (0..net.lonlat.len() as u32)
        .filter(|&i| used[i as usize])
        .collect();
    let bbox = order
        .iter()
        .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, &i| {
            let p = net.lonlat[i as usize];
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        });
    let key = |p: [f64; 2]| {
        let scale = |v: f64, lo: f64, hi: f64| {
            if hi > lo {
                (((v - lo) / (hi - lo)) * 65535.0).round() as u32
            } else {
                0
            }
        };
        hilbert_d(scale(p[0], bbox[0], bbox[2]), scale(p[1], bbox[1], bbox[3]))
    };
    order.sort_by_cached_key(|&i| (key(net.lonlat[i as usize]), i));
    order
}

/// Renumbers the segments' nodes in `order` (sorting the segments by their new nodes) and
/// returns the node positions in that order, 1e-7 degrees.
fn renumber(net: &RawNetwork, order: &[u32], segments: &mut [Segment]) -> (Vec<i32>, Vec<i32>) {
    let mut new_id = vec![u32::MAX; net.lonlat.len()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old as usize] = new as u32;
    }
    let lon_e7 = order
        .iter()
        .map(|&i| (net.lonlat[i as usize][0] * 1e7).round() as i32)
        .collect();
    let lat_e7 = order
        .iter()
        .map(|&i| (net.lonlat[i as usize][1] * 1e7).round() as i32)
        .collect();
    for s in segments.iter_mut() {
        s.nodes = s.nodes.map(|n| new_id[n as usize]);
    }
    segments.sort_by_key(|s| (s.nodes[0], s.nodes[1]));
    (lon_e7, lat_e7)
}

/// Refuses parts whose arrays disagree, that overflow the u32 indices, or whose segments
/// name a node out of range.
fn check_parts(
    lon_e7: &[i32],
    lat_e7: &[i32],
    segments: &[Segment],
) -> Result<(), GraphPartsError> {
    let n = lon_e7.len();
    if lat_e7.len() != n {
        return Err(GraphPartsError::CoordinateLengths);
    }
    if n >= u32::MAX as usize || segments.len() >= u32::MAX as usize / 2 {
        return Err(GraphPartsError::TooLarge);
    }
    match segments
        .iter()
        .position(|s| s.nodes.iter().any(|&v| v as usize >= n))
    {
        Some(i) => Err(GraphPartsError::NodeOutOfRange(i)),
        None => Ok(()),
    }
}

/// (tail, edge, segment) for each open direction of each segment, in segment order.
fn forward_arcs(segments: &[Segment]) -> Vec<(u32, Edge, u32)> {
    let mut arcs: Vec<(u32, Edge, u32)> = Vec::with_capacity(segments.len() * 2);
    for (i, s) in segments.iter().enumerate() {
        let [a, b] = s.nodes;
        let [w_ab, w_ba] = s.weight_ms;
        let seg = i as u32;
        if w_ab != NO_EDGE {
            arcs.push((
                a,
                Edge {
                    head: b,
                    weight_ms: w_ab,
                },
                seg,
            ));
        }
        if w_ba != NO_EDGE {
            arcs.push((
                b,
                Edge {
                    head: a,
                    weight_ms: w_ba,
                },
                seg,
            ));
        }
    }
    arcs
}

/// The same arcs run backwards, for the reverse adjacency: (head, edge to the tail, segment).
fn reversed_arcs(fwd_arcs: &[(u32, Edge, u32)]) -> Vec<(u32, Edge, u32)> {
    fwd_arcs
        .iter()
        .map(|&(tail, e, seg)| {
            let back = Edge {
                head: tail,
                weight_ms: e.weight_ms,
            };
            (e.head, back, seg)
        })
        .collect()
}

/// CSR from (tail, edge, segment) triples, keeping input order within a node.
fn csr(n: usize, arcs: Vec<(u32, Edge, u32)>) -> (Vec<u32>, Vec<Edge>, Vec<u32>) {
    let mut first = vec![0u32; n + 1];
    for (tail, _, _) in &arcs {
        first[*tail as usize + 1] += 1;
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut pos = first.clone();
    let mut out = vec![
        Edge {
            head: 0,
            weight_ms: 0
        };
        arcs.len()
    ];
    let mut segs = vec![0u32; arcs.len()];
    for (tail, e, seg) in arcs {
        let p = &mut pos[tail as usize];
        out[*p as usize] = e;
        segs[*p as usize] = seg;
        *p += 1;
    }
    (first, out, segs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::profile::{Oneway, WayAttrs};

    #[test]
    fn hilbert_visits_neighbours_in_turn() {
        // On a 4 × 4 corner of the curve every step moves to an adjacent cell.
        let mut cells: Vec<(u64, u32, u32)> = (0..4)
            .flat_map(|x| (0..4).map(move |y| (hilbert_d(x, y), x, y)))
            .collect();
        cells.sort();
        for w in cells.windows(2) {
            let (dx, dy) = (w[0].1.abs_diff(w[1].1), w[0].2.abs_diff(w[1].2));
            assert_eq!(dx + dy, 1, "{w:?}");
        }
    }

    #[test]
    fn segments_weights_and_adjacency() {
        let mut net = RawNetwork::new("t");
        let a = net.push_node(1.0, 49.0);
        let b = net.push_node(1.001, 49.0);
        let c = net.push_node(1.002, 49.0);
        let mut oneway = WayAttrs::new(RoadClass::Tertiary);
        oneway.oneway = Oneway::Forward;
        oneway.urban = Some(false);
        net.push_way(vec![a, b, c], oneway);
        let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
        assert_eq!(
            (g.node_count(), g.segment_count(), g.edge_count()),
            (3, 2, 2)
        );
        let len = segment_length_m([1.0, 49.0], [1.001, 49.0]);
        assert!((len - 73.1).abs() < 0.2, "{len}");
        let w = weight_ms(len, 55.0);
        for s in g.segments() {
            assert_eq!(s.weight_ms, [w, NO_EDGE]);
        }
        let total: u32 = g.edge_list().map(|e| e.2).sum();
        assert_eq!(total, 2 * w);
        // Reverse adjacency mirrors forward adjacency.
        let mut fwd: Vec<_> = g.edge_list().collect();
        let mut bwd: Vec<_> = (0..3)
            .flat_map(|v| {
                g.edges(v, Direction::To)
                    .iter()
                    .map(move |e| (e.head, v, e.weight_ms))
            })
            .collect();
        fwd.sort();
        bwd.sort();
        assert_eq!(fwd, bwd);
    }

    #[test]
    fn a_network_without_roads_for_the_profile_is_an_error() {
        let mut net = RawNetwork::new("lorry-free.osm");
        let a = net.push_node(1.0, 49.0);
        let b = net.push_node(1.001, 49.0);
        let mut attrs = WayAttrs::new(RoadClass::Residential);
        attrs.hgv_access = false;
        net.push_way(vec![a, b], attrs);
        let err = RoadGraph::build(&net, ProfileId::Hgv, &BuildOptions::default()).unwrap_err();
        assert!(err.to_string().contains("lorry-free.osm"), "{err}");
        // A way pointing past the node list is refused, not a panic.
        net.push_way(vec![0, 7], WayAttrs::new(RoadClass::Primary));
        let err = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap_err();
        assert!(matches!(err, RoutingError::BadNetwork { .. }), "{err}");
    }
}
