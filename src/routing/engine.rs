//! The routing engine of one profile: the graph, its snap index, a pool of search states and
//! the per-layer caches; and [`Routing`], the engines of every loaded profile.
//!
//! Requests never wait for one another: the graph and index are immutable, a search takes a
//! state from the pool (a lock held for a pointer swap, never during a search) or makes one,
//! and the caches are `ArcSwap`s read without locking.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::UNIX_EPOCH;

use arc_swap::ArcSwap;

use super::catchment_roads::CatchmentRoads;
use super::coverage::{RoadCoverage, graph_hull};
use super::direction::Direction;
use super::error::RoutingError;
use super::features::SnapCache;
use super::graph::{BuildOptions, NO_EDGE, RoadGraph};
use super::graph_file::read_graph;
use super::network::RawNetwork;
use super::profile::ProfileId;
use super::search::{SearchState, search};
use super::snap::{DEFAULT_MAX_SNAP_M, Snap, SnapIndex};
use crate::index::{LayerData, Snapshot};
use crate::model::Layer;

/// Largest number of idle search states kept for reuse.
const POOL_MAX: usize = 16;

/// Routing on the graph of one profile.
pub struct RoutingEngine {
    graph: RoadGraph,
    snap: SnapIndex,
    max_snap_m: f64,
    pool: Mutex<Vec<SearchState>>,
    pub(crate) feature_snaps: SnapCache,
    pub(crate) catchment_roads: LayerCache<CatchmentRoads>,
    /// The convex hull of the graph's nodes, computed on first use.
    hull: OnceLock<Option<geo_types::Polygon<f64>>>,
    pub(crate) road_coverage: LayerCache<RoadCoverage>,
    pub(crate) segment_rows: LayerCache<super::features::SegmentRows>,
}

impl std::fmt::Debug for RoutingEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RoutingEngine({}, {} nodes, {} segments)",
            self.graph.profile(),
            self.graph.node_count(),
            self.graph.segment_count()
        )
    }
}

impl RoutingEngine {
    /// An engine over a graph, snapping up to [`DEFAULT_MAX_SNAP_M`].
    pub fn new(graph: RoadGraph) -> RoutingEngine {
        let snap = SnapIndex::new(&graph);
        RoutingEngine {
            graph,
            snap,
            max_snap_m: DEFAULT_MAX_SNAP_M,
            pool: Mutex::new(Vec::new()),
            feature_snaps: SnapCache::default(),
            catchment_roads: LayerCache::default(),
            hull: OnceLock::new(),
            road_coverage: LayerCache::default(),
            segment_rows: LayerCache::default(),
        }
    }

    /// Sets the largest snapping distance, metres.
    pub fn with_max_snap_m(mut self, max_snap_m: f64) -> RoutingEngine {
        self.max_snap_m = max_snap_m;
        self
    }

    pub fn graph(&self) -> &RoadGraph {
        &self.graph
    }

    pub fn profile(&self) -> ProfileId {
        self.graph.profile()
    }

    /// The graph's extent: the convex hull of its nodes (see [`super::coverage`]).
    pub fn hull(&self) -> Option<&geo_types::Polygon<f64>> {
        self.hull.get_or_init(|| graph_hull(&self.graph)).as_ref()
    }

    /// The road coverage of every catchment row, computed once per catchments snapshot.
    pub fn road_coverage(&self, catchments: &Arc<LayerData>) -> Arc<RoadCoverage> {
        self.road_coverage
            .get_or_compute(catchments, || RoadCoverage::new(self.hull(), catchments))
    }

    pub fn max_snap_m(&self) -> f64 {
        self.max_snap_m
    }

    /// Approximate memory of the snap index, bytes.
    pub fn snap_index_bytes(&self) -> usize {
        self.snap.heap_bytes()
    }

    /// The nearest usable road position to a point, within the snapping limit.
    pub fn snap(&self, lon: f64, lat: f64) -> Result<Snap, RoutingError> {
        if !(lon.is_finite()
            && lat.is_finite()
            && (-180.0..=180.0).contains(&lon)
            && (-90.0..=90.0).contains(&lat))
        {
            return Err(RoutingError::BadCoordinate { lon, lat });
        }
        let too_far = |distance_m| RoutingError::TooFarFromRoad {
            lon,
            lat,
            distance_m,
            max_m: self.max_snap_m,
            profile: self.profile(),
        };
        let s = self
            .snap
            .nearest(&self.graph, lon, lat)
            .ok_or_else(|| too_far(f64::INFINITY))?;
        if s.distance_m > self.max_snap_m {
            return Err(too_far(s.distance_m));
        }
        Ok(s)
    }

    /// The nearest usable road position whatever the distance (`None` for an empty graph).
    pub fn snap_unbounded(&self, lon: f64, lat: f64) -> Option<Snap> {
        self.snap.nearest(&self.graph, lon, lat)
    }

    /// Travel times from (or to) several points at once, up to `max_seconds`: one bounded
    /// Dijkstra. Fails if a point is farther than the snapping limit from any road.
    pub fn travel_times(
        &self,
        locations: &[[f64; 2]],
        direction: Direction,
        max_seconds: f64,
    ) -> Result<SearchTimes<'_>, RoutingError> {
        let origins = locations
            .iter()
            .map(|p| self.snap(p[0], p[1]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.travel_times_from(origins, direction, max_seconds))
    }

    /// Travel times from (or to) positions already snapped.
    pub fn travel_times_from(
        &self,
        origins: Vec<Snap>,
        direction: Direction,
        max_seconds: f64,
    ) -> SearchTimes<'_> {
        let limit_ms = (max_seconds * 1000.0)
            .round()
            .clamp(0.0, f64::from(NO_EDGE - 1)) as u32;
        let sources: Vec<(u32, u32)> = origins
            .iter()
            .flat_map(|o| entries(&self.graph, o, direction))
            .map(|(v, ms, _)| (v, ms))
            .collect();
        let mut state = self.take_state();
        search(&self.graph, &mut state, &sources, direction, limit_ms);
        SearchTimes {
            engine: self,
            state,
            origins,
            direction,
            limit_ms,
        }
    }

    fn take_state(&self) -> SearchState {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        pooled.unwrap_or_else(|| SearchState::new(self.graph.node_count()))
    }

    fn give_back(&self, state: SearchState) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(state);
        }
    }

    /// Snaps the features of every layer of a snapshot, so drive-time filters find them ready,
    /// and measures the road coverage of its catchments. Call it when a snapshot is published;
    /// layers already done are skipped.
    pub fn prepare(&self, snapshot: &Snapshot) {
        for layer in snapshot.layers() {
            self.feature_snaps(layer);
        }
        self.road_coverage(snapshot.layer(Layer::Catchments));
    }
}

/// A route found by a search: its time and its length along the roads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route {
    pub seconds: f64,
    pub length_m: f64,
}

/// How a route reaches a position: through a node of its segment (the metres along the
/// segment between them), or straight along the segment from an origin on it.
#[derive(Debug, Clone, Copy)]
enum End {
    Via { node: u32, metres: f64 },
    Direct { metres: f64 },
}

/// Where a search enters the graph from a snapped origin: `(node, initial ms, metres)` for
/// each open way out of the point along its segment (towards `b` along a→b or towards `a`
/// along b→a when leaving it; from `a` along a→b or from `b` along b→a when arriving at it).
fn entries(
    graph: &RoadGraph,
    o: &Snap,
    direction: Direction,
) -> impl Iterator<Item = (u32, u32, f64)> {
    let seg = graph.segment(o.seg);
    let [a, b] = seg.nodes;
    let [w_ab, w_ba] = seg.weight_ms;
    let len = f64::from(seg.length_m);
    let part = |w: u32, f: f64| (f64::from(w) * f).round() as u32;
    let (f, g) = (o.frac, 1.0 - o.frac);
    let pair = match direction {
        Direction::From => [(w_ab, b, g), (w_ba, a, f)],
        Direction::To => [(w_ab, a, f), (w_ba, b, g)],
    };
    pair.into_iter()
        .filter(|(w, _, _)| *w != NO_EDGE)
        .map(move |(w, v, share)| (v, part(w, share), share * len))
}

/// Travel times of one search: the labels of the settled nodes and the snapped origins.
/// Holds a pooled search state, given back on drop.
pub struct SearchTimes<'e> {
    engine: &'e RoutingEngine,
    state: SearchState,
    origins: Vec<Snap>,
    direction: Direction,
    limit_ms: u32,
}

impl std::fmt::Debug for SearchTimes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchTimes")
            .field("origins", &self.origins)
            .field("direction", &self.direction)
            .field("limit_ms", &self.limit_ms)
            .field("settled", &self.state.settled().len())
            .finish()
    }
}

impl Drop for SearchTimes<'_> {
    fn drop(&mut self) {
        // An empty state allocates nothing.
        let state = std::mem::replace(&mut self.state, SearchState::new(0));
        self.engine.give_back(state);
    }
}

impl<'e> SearchTimes<'e> {
    fn state(&self) -> &SearchState {
        &self.state
    }

    pub fn engine(&self) -> &'e RoutingEngine {
        self.engine
    }

    pub fn graph(&self) -> &'e RoadGraph {
        &self.engine.graph
    }

    /// The snapped origins (or destinations, for [`Direction::To`]).
    pub fn origins(&self) -> &[Snap] {
        &self.origins
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The search limit, seconds.
    pub fn limit_s(&self) -> f64 {
        f64::from(self.limit_ms) / 1000.0
    }

    /// The search limit, milliseconds.
    pub fn limit_ms(&self) -> u32 {
        self.limit_ms
    }

    /// The rows of `index` that may be reached: those snapped to a segment with a settled end,
    /// or to an origin's segment, sorted and without repeats. A superset of the rows whose
    /// [`SearchTimes::time_at`] is known, found from the roads reached instead of from every
    /// row of the layer.
    pub fn candidate_rows(&self, index: &super::features::SegmentRows) -> Vec<u32> {
        let graph = self.graph();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut take = |seg: u32, out: &mut Vec<u32>| {
            if seen.insert(seg) {
                out.extend_from_slice(index.on(seg));
            }
        };
        for o in self.origins() {
            take(o.seg, &mut out);
        }
        for &u in self.settled_nodes() {
            for d in [Direction::From, Direction::To] {
                for &seg in graph.edge_segments(u, d) {
                    take(seg, &mut out);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Settled nodes, by increasing travel time.
    pub fn settled_nodes(&self) -> &[u32] {
        self.state().settled()
    }

    /// Travel time to (or from) a node, ms, if within the limit.
    #[inline]
    pub fn node_time_ms(&self, node: u32) -> Option<u32> {
        self.state().time_ms(node)
    }

    /// Travel time to (or from) a snapped position, seconds, if within the limit: through
    /// either end of its segment, or straight along it when an origin lies on the same segment.
    pub fn time_at(&self, p: &Snap) -> Option<f64> {
        self.best_end(p).map(|(ms, _)| ms / 1000.0)
    }

    /// The fastest route to (or from) a snapped position, if within the limit: its time and
    /// its length along the roads (not a straight line). The path is walked back from the
    /// position to the origin over the labels the search left: a node's predecessor is the
    /// neighbour whose time plus the edge's weight is the node's own time, exact because
    /// weights are whole milliseconds. Costs the route's number of nodes, and nothing in the
    /// search itself (no predecessor array to fill on every relaxation).
    pub fn route_at(&self, p: &Snap) -> Option<Route> {
        let (ms, end) = self.best_end(p)?;
        let length_m = match end {
            End::Direct { metres } => metres,
            End::Via { node, metres } => metres + self.walk_back(node)?,
        };
        Some(Route {
            seconds: ms / 1000.0,
            length_m,
        })
    }

    /// Metres from a settled node back to the origin its label came from.
    fn walk_back(&self, from: u32) -> Option<f64> {
        let g = &self.engine.graph;
        let back = self.direction.reverse();
        let mut seen = std::collections::HashSet::new();
        let starts: Vec<(u32, u32, f64)> = self
            .origins
            .iter()
            .flat_map(|o| entries(g, o, self.direction))
            .collect();
        let (mut v, mut metres) = (from, 0.0);
        loop {
            let t = self.node_time_ms(v)?;
            let entry = starts.iter().find(|&&(n, ms, _)| n == v && ms == t);
            if let Some(&(_, _, m)) = entry {
                return Some(metres + m);
            }
            seen.insert(v);
            // Edges taken by the search into v, seen from v: the reverse adjacency.
            let step = g
                .edges(v, back)
                .iter()
                .zip(g.edge_segments(v, back))
                .filter(|(e, _)| !seen.contains(&e.head))
                .filter(|(e, _)| {
                    t.checked_sub(e.weight_ms)
                        .is_some_and(|rest| self.node_time_ms(e.head) == Some(rest))
                })
                // A strictly earlier neighbour first: zero-weight edges cannot loop.
                .max_by_key(|(e, _)| e.weight_ms > 0)?;
            metres += f64::from(g.segment(*step.1).length_m);
            v = step.0.head;
        }
    }

    /// The best way into a position: its time (ms) and which end of its segment it comes
    /// through (or straight along it from an origin on the same segment).
    fn best_end(&self, p: &Snap) -> Option<(f64, End)> {
        let g = &self.engine.graph;
        let seg = g.segment(p.seg);
        let [a, b] = seg.nodes;
        let len = f64::from(seg.length_m);
        let [w_ab, w_ba] = seg
            .weight_ms
            .map(|w| (w != NO_EDGE).then_some(f64::from(w)));
        let f = p.frac;
        let node = |v: u32| self.node_time_ms(v).map(f64::from);
        let mut best: Option<(f64, End)> = None;
        let mut consider = |t: Option<f64>, end: End| {
            if let Some(t) = t
                && best.as_ref().is_none_or(|(b, _)| t < *b)
            {
                best = Some((t, end));
            }
        };
        let via = |node: u32, share: f64| End::Via {
            node,
            metres: share * len,
        };
        match self.direction {
            Direction::From => {
                consider(w_ab.and_then(|w| Some(node(a)? + f * w)), via(a, f));
                consider(
                    w_ba.and_then(|w| Some(node(b)? + (1.0 - f) * w)),
                    via(b, 1.0 - f),
                );
            }
            Direction::To => {
                consider(
                    w_ab.and_then(|w| Some(node(b)? + (1.0 - f) * w)),
                    via(b, 1.0 - f),
                );
                consider(w_ba.and_then(|w| Some(node(a)? + f * w)), via(a, f));
            }
        }
        for o in self.origins.iter().filter(|o| o.seg == p.seg) {
            // Position of the later point along a→b minus the earlier one.
            let (from, to) = match self.direction {
                Direction::From => (o.frac, f),
                Direction::To => (f, o.frac),
            };
            let metres = (to - from).abs() * len;
            if to >= from {
                consider(w_ab.map(|w| (to - from) * w), End::Direct { metres });
            } else {
                consider(w_ba.map(|w| (from - to) * w), End::Direct { metres });
            }
        }
        best.filter(|(t, _)| *t <= f64::from(self.limit_ms))
    }

    /// Travel times to (or from) the features of a layer, seconds, for those within the limit:
    /// `(row, seconds)`, by row. Features are snapped once (cached by the engine, updated row
    /// by row after a change); those farther than the snapping limit from a usable road are left out.
    pub fn to_features(&self, layer: &Arc<LayerData>) -> Vec<(u32, f64)> {
        let snaps = self.engine.feature_snaps(layer);
        snaps
            .iter()
            .enumerate()
            .filter_map(|(row, s)| Some((row as u32, self.time_at(s.as_ref()?)?)))
            .collect()
    }
}

/// A value computed once per layer snapshot, keyed by the layer's kind and
/// [`LayerData::serial`]: one entry per kind, replaced when a layer of another serial is asked
/// for (rebuilt from scratch, not updated: used for small layers only, the catchments, where a
/// rebuild costs a few milliseconds). Lookups never lock; a miss computes the value and
/// publishes it with a compare-and-swap, so two concurrent misses may both compute.
pub(crate) struct LayerCache<T> {
    entries: ArcSwap<Vec<(Layer, u64, Arc<T>)>>,
}

impl<T> Default for LayerCache<T> {
    fn default() -> Self {
        LayerCache {
            entries: ArcSwap::from_pointee(Vec::new()),
        }
    }
}

impl<T> LayerCache<T> {
    pub(crate) fn get_or_compute(
        &self,
        layer: &Arc<LayerData>,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        let (kind, serial) = (layer.layer(), layer.serial());
        if let Some((_, _, v)) = self
            .entries
            .load()
            .iter()
            .find(|(k, s, _)| *k == kind && *s == serial)
        {
            return v.clone();
        }
        let value = Arc::new(compute());
        self.entries.rcu(|old| {
            let mut next: Vec<(Layer, u64, Arc<T>)> =
                old.iter().filter(|(k, _, _)| *k != kind).cloned().collect();
            next.push((kind, serial, value.clone()));
            next
        });
        value
    }
}

/// The identity of a road graph file, as far as a snap file is bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphIdentity {
    pub file_len: u64,
    pub mtime_ns: u64,
    pub nodes: u64,
    pub segments: u64,
    pub max_snap_bits: u64,
}

impl GraphIdentity {
    /// The identity of a graph file on disk with the engine's counts.
    pub fn of_file(path: &Path, nodes: usize, segments: usize, max_snap_m: f64) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(GraphIdentity {
            file_len: meta.len(),
            mtime_ns: u64::try_from(mtime.as_nanos()).unwrap_or(u64::MAX),
            nodes: nodes as u64,
            segments: segments as u64,
            max_snap_bits: max_snap_m.to_bits(),
        })
    }
}

/// The engines of every loaded profile.
#[derive(Debug, Default, Clone)]
pub struct Routing {
    engines: BTreeMap<ProfileId, Arc<RoutingEngine>>,
    /// The identity of the graph file of each engine loaded from one (see `snap_file`).
    graph_ids: BTreeMap<ProfileId, GraphIdentity>,
}

/// File name of a profile's graph in a data directory.
pub fn graph_file_name(profile: ProfileId) -> String {
    format!("roads-{}.graph", profile.id())
}

impl Routing {
    /// Builds the graphs of several profiles from one network.
    pub fn from_network(
        net: &RawNetwork,
        profiles: &[ProfileId],
        opts: &BuildOptions,
    ) -> Result<Routing, RoutingError> {
        let mut engines = BTreeMap::new();
        for &p in profiles {
            let graph = RoadGraph::build(net, p, opts)?;
            engines.insert(p, Arc::new(RoutingEngine::new(graph)));
        }
        Ok(Routing {
            engines,
            graph_ids: BTreeMap::new(),
        })
    }

    /// Adds (or replaces) an engine (not bound to a graph file: its snaps are not persisted).
    pub fn insert(&mut self, engine: RoutingEngine) {
        self.graph_ids.remove(&engine.profile());
        self.engines.insert(engine.profile(), Arc::new(engine));
    }

    /// The graph files of a data directory (`roads-<profile>.graph`) that exist.
    pub fn graph_files(dir: &Path) -> Vec<(ProfileId, PathBuf)> {
        ProfileId::ALL
            .into_iter()
            .map(|p| (p, dir.join(graph_file_name(p))))
            .filter(|(_, path)| path.exists())
            .collect()
    }

    /// Loads every graph file of a data directory; `None` when there is none.
    pub fn load_dir(dir: &Path) -> Result<Option<Routing>, RoutingError> {
        let mut routing = Routing::default();
        for (profile, path) in Routing::graph_files(dir) {
            let engine = RoutingEngine::new(read_graph(&path)?);
            let g = engine.graph();
            let id = GraphIdentity::of_file(
                &path,
                g.node_count(),
                g.segment_count(),
                engine.max_snap_m(),
            );
            routing.insert(engine);
            if let Some(id) = id {
                routing.graph_ids.insert(profile, id);
            }
        }
        Ok((!routing.engines.is_empty()).then_some(routing))
    }

    /// The engine of a profile.
    pub fn engine(&self, profile: ProfileId) -> Result<&Arc<RoutingEngine>, RoutingError> {
        self.engines
            .get(&profile)
            .ok_or(RoutingError::ProfileNotLoaded(profile))
    }

    /// Loaded profiles.
    pub fn profiles(&self) -> impl Iterator<Item = ProfileId> + '_ {
        self.engines.keys().copied()
    }

    /// Snaps the features of a snapshot for every profile (see [`RoutingEngine::prepare`]).
    /// The profiles run in parallel (one thread each): snapping is CPU-bound and the engines
    /// share nothing.
    pub fn prepare(&self, snapshot: &Snapshot) {
        std::thread::scope(|s| {
            for e in self.engines.values() {
                s.spawn(move || e.prepare(snapshot));
            }
        });
    }

    /// The engines of every loaded profile.
    pub fn engines(&self) -> impl Iterator<Item = &Arc<RoutingEngine>> + '_ {
        self.engines.values()
    }

    /// Each engine with the identity of the graph file it was read from, if any.
    pub(crate) fn engines_with_ids(
        &self,
    ) -> impl Iterator<Item = (&RoutingEngine, Option<GraphIdentity>)> + '_ {
        self.engines
            .iter()
            .map(|(p, e)| (&**e, self.graph_ids.get(p).copied()))
    }
}
