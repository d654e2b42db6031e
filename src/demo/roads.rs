//! The synthetic demo road network, written as OpenStreetMap XML so that it goes through the
//! same reader as real data (`fixtures/roads.osm.gz`, embedded for demo mode).
//!
//! What it draws on the [`Territory`] (about 20,000 nodes at scale 1):
//! - a **street grid in every town**, sized by population and slightly rotated and jittered,
//!   with a through road along its middle row and column; a 30 km/h zone with alternating
//!   one-way streets in the main town centre, a dangerous-goods ban on its through road, and
//!   weight limits on a few village streets;
//! - **roads between towns**: the minimum spanning tree of the towns plus non-crossing links to
//!   near neighbours, classed primary, secondary or tertiary by the towns they join, and
//!   country lanes to hamlets wherever the land would otherwise lie over 1.2 km from a road;
//! - a **motorway** across the territory south of the main town: two one-way carriageways,
//!   junctions with `motorway_link` ramps and a roundabout linked to the nearest town, and a
//!   roundabout at each end where a trunk road continues to the boundary;
//! - **roads in the industrial zones** (a loop of service roads, an outer loop road, spokes
//!   across them, one private) linked to the nearest road, an isolated car park (an island), a low bridge, a ferry and a footway
//!   (which no car profile uses).
//!
//! Every way carries `source=`[`SOURCE`]; the names and refs are made up.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use geo::Contains;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::territory::{LocalFrame, SOURCE, Territory};

/// File name of the demo road network in the fixtures directory.
pub const ROADS_FILE: &str = "roads.osm.gz";

/// The committed demo road network (gzip-compressed OSM XML), for demo mode.
pub const EMBEDDED_ROADS: &[u8] = include_bytes!("../../fixtures/roads.osm.gz");

struct Way {
    nodes: Vec<usize>,
    tags: Vec<(&'static str, String)>,
}

/// The network under construction, in local metres.
struct Osm {
    frame: LocalFrame,
    /// Local (x, y) metres.
    nodes: Vec<(f64, f64)>,
    ways: Vec<Way>,
}

impl Osm {
    fn node(&mut self, x: f64, y: f64) -> usize {
        self.nodes.push((x, y));
        self.nodes.len() - 1
    }

    fn way(&mut self, nodes: Vec<usize>, tags: &[(&'static str, &str)]) {
        if nodes.len() >= 2 {
            self.ways.push(Way {
                nodes,
                tags: tags.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            });
        }
    }

    /// Nodes every `step` metres from node `a` to node `b` (ends excluded), bent sideways by
    /// up to `bend` × the length.
    fn line_between(&mut self, a: usize, b: usize, step: f64, bend: f64) -> Vec<usize> {
        let (pa, pb) = (self.nodes[a], self.nodes[b]);
        let (dx, dy) = (pb.0 - pa.0, pb.1 - pa.1);
        let len = dx.hypot(dy);
        let n = (len / step).ceil().max(1.0) as usize;
        let (nx, ny) = if len > 0.0 {
            (-dy / len, dx / len)
        } else {
            (0.0, 0.0)
        };
        let mut out = vec![a];
        for k in 1..n {
            let s = k as f64 / n as f64;
            let off = bend * len * (std::f64::consts::PI * s).sin();
            out.push(self.node(pa.0 + s * dx + off * nx, pa.1 + s * dy + off * ny));
        }
        out.push(b);
        out
    }

    /// The node nearest to (x, y) among `candidates`.
    fn nearest(&self, candidates: &[usize], x: f64, y: f64) -> Option<usize> {
        candidates.iter().copied().min_by(|&a, &b| {
            let da = (self.nodes[a].0 - x).hypot(self.nodes[a].1 - y);
            let db = (self.nodes[b].0 - x).hypot(self.nodes[b].1 - y);
            da.total_cmp(&db).then(a.cmp(&b))
        })
    }

    /// A closed roundabout of `k` nodes around (x, y).
    fn roundabout(&mut self, x: f64, y: f64, r: f64, k: usize, class: &'static str) -> Vec<usize> {
        let ring: Vec<usize> = (0..k)
            .map(|i| {
                let a = i as f64 / k as f64 * std::f64::consts::TAU;
                self.node(x + r * a.cos(), y + r * a.sin())
            })
            .collect();
        let mut closed = ring.clone();
        closed.push(ring[0]);
        self.way(closed, &[("highway", class), ("junction", "roundabout")]);
        ring
    }

    fn to_xml(&self, seed: u64) -> String {
        let mut s = String::with_capacity(self.nodes.len() * 60 + self.ways.len() * 200);
        let ll: Vec<(f64, f64)> = self
            .nodes
            .iter()
            .map(|&(x, y)| self.frame.to_lonlat(x, y))
            .collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(lon, lat) in &ll {
            (x0, y0, x1, y1) = (x0.min(lon), y0.min(lat), x1.max(lon), y1.max(lat));
        }
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            s,
            "<!-- {SOURCE}: the road network of the demo territory, generated by `terriens fixtures` (seed {seed}). -->"
        );
        s.push_str("<osm version=\"0.6\" generator=\"terriens synthetic demo data\">\n");
        let _ = writeln!(
            s,
            " <bounds minlat=\"{y0:.7}\" minlon=\"{x0:.7}\" maxlat=\"{y1:.7}\" maxlon=\"{x1:.7}\"/>"
        );
        for (i, (lon, lat)) in ll.iter().enumerate() {
            let _ = writeln!(
                s,
                " <node id=\"{}\" lat=\"{lat:.7}\" lon=\"{lon:.7}\"/>",
                i + 1
            );
        }
        for (i, w) in self.ways.iter().enumerate() {
            let _ = writeln!(s, " <way id=\"{}\">", i + 1);
            for n in &w.nodes {
                let _ = writeln!(s, "  <nd ref=\"{}\"/>", n + 1);
            }
            for (k, v) in &w.tags {
                let _ = writeln!(s, "  <tag k=\"{k}\" v=\"{}\"/>", escape(v));
            }
            let _ = writeln!(s, "  <tag k=\"source\" v=\"{}\"/>", escape(SOURCE));
            s.push_str(" </way>\n");
        }
        s.push_str("</osm>\n");
        s
    }
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A town's street grid: its nodes and where roads from outside may join it.
struct TownGrid {
    nodes: Vec<usize>,
    /// Perimeter nodes (ends of rows and columns).
    edge_nodes: Vec<usize>,
}

fn segments_cross(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let orient = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
    };
    let (o1, o2) = (orient(a, b, c), orient(a, b, d));
    let (o3, o4) = (orient(c, d, a), orient(c, d, b));
    o1 * o2 < 0.0 && o3 * o4 < 0.0
}

/// The demo road network of a territory, as OSM XML (deterministic for a seed).
pub fn generate_roads(territory: &Territory, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_0AD5);
    let frame = LocalFrame::new();
    let mut osm = Osm {
        frame,
        nodes: Vec::new(),
        ways: Vec::new(),
    };
    let centres: Vec<(f64, f64)> = territory
        .towns
        .iter()
        .map(|t| frame.to_local(t.lon, t.lat))
        .collect();
    let nearest_other = |i: usize| {
        centres
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| (c.0 - centres[i].0).hypot(c.1 - centres[i].1))
            .fold(f64::INFINITY, f64::min)
    };

    // Town grids.
    let mut grids: Vec<TownGrid> = Vec::with_capacity(centres.len());
    for (ti, town) in territory.towns.iter().enumerate() {
        let (cx, cy) = centres[ti];
        let main = ti == 0;
        let spacing = if main { 90.0 } else { 100.0 };
        let radius_cap = 0.4 * nearest_other(ti);
        let wanted = (f64::from(town.population).sqrt() / 1.6)
            .round()
            .clamp(7.0, 70.0);
        let n = wanted.min((2.0 * radius_cap / spacing).floor()).max(4.0) as usize;
        let theta: f64 = rng.random_range(-0.5..0.5);
        let (sin, cos) = theta.sin_cos();
        let half = (n - 1) as f64 / 2.0;
        let r_clip = (half + 0.5) * spacing;
        let mut cell: Vec<Vec<Option<usize>>> = vec![vec![None; n]; n];
        let mut nodes = Vec::new();
        for (b, row) in cell.iter_mut().enumerate() {
            for (a, slot) in row.iter_mut().enumerate() {
                let (u, v) = ((a as f64 - half) * spacing, (b as f64 - half) * spacing);
                if u.hypot(v) > r_clip {
                    continue;
                }
                let (jx, jy) = (rng.random_range(-8.0..8.0), rng.random_range(-8.0..8.0));
                let id = osm.node(cx + u * cos - v * sin + jx, cy + u * sin + v * cos + jy);
                *slot = Some(id);
                nodes.push(id);
            }
        }
        let mid = n / 2;
        let through = if main || ti < 4 {
            "secondary"
        } else {
            "tertiary"
        };
        let mut edge_nodes = Vec::new();
        for vertical in [false, true] {
            for k in 0..n {
                let line: Vec<usize> = if vertical {
                    cell.iter().filter_map(|row| row[k]).collect()
                } else {
                    cell[k].iter().flatten().copied().collect()
                };
                if let (Some(&f), Some(&l)) = (line.first(), line.last()) {
                    edge_nodes.push(f);
                    edge_nodes.push(l);
                }
                let centre_zone = main && (k as f64 - half).abs() <= 0.35 * n as f64;
                let mut tags: Vec<(&'static str, &str)> = Vec::new();
                if k == mid {
                    tags.push(("highway", through));
                    tags.push(("maxspeed", "50"));
                    if main && !vertical {
                        tags.push(("hazmat", "no"));
                    }
                } else {
                    tags.push(("highway", "residential"));
                    if centre_zone {
                        tags.push(("maxspeed", "30"));
                        tags.push(("zone:maxspeed", "FR:30"));
                        if !vertical && k.abs_diff(mid) <= 4 {
                            tags.push(("oneway", if k % 2 == 0 { "yes" } else { "-1" }));
                        }
                    } else if !main && ti % 5 == 2 && k == 1 {
                        tags.push(("maxweight", "3.5"));
                    }
                }
                osm.way(line, &tags);
            }
        }
        grids.push(TownGrid { nodes, edge_nodes });
    }

    // Roads between towns: minimum spanning tree, then non-crossing links to near neighbours.
    let nt = centres.len();
    let dist =
        |i: usize, j: usize| (centres[i].0 - centres[j].0).hypot(centres[i].1 - centres[j].1);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    {
        let mut in_tree = vec![false; nt];
        if nt > 0 {
            in_tree[0] = true;
        }
        for _ in 1..nt {
            let best = (0..nt)
                .filter(|&i| in_tree[i])
                .flat_map(|i| (0..nt).filter(|&j| !in_tree[j]).map(move |j| (i, j)))
                .min_by(|a, b| dist(a.0, a.1).total_cmp(&dist(b.0, b.1)));
            if let Some((i, j)) = best {
                in_tree[j] = true;
                pairs.push((i.min(j), i.max(j)));
            }
        }
        let mut extra: Vec<(usize, usize)> = Vec::new();
        for i in 0..nt {
            let mut near: Vec<usize> = (0..nt).filter(|&j| j != i).collect();
            near.sort_by(|&a, &b| dist(i, a).total_cmp(&dist(i, b)));
            for &j in near.iter().take(3) {
                extra.push((i.min(j), i.max(j)));
            }
        }
        extra.sort_by(|a, b| dist(a.0, a.1).total_cmp(&dist(b.0, b.1)));
        for (i, j) in extra {
            if pairs.contains(&(i, j)) {
                continue;
            }
            let crosses = pairs.iter().any(|&(a, b)| {
                a != i
                    && a != j
                    && b != i
                    && b != j
                    && segments_cross(centres[i], centres[j], centres[a], centres[b])
            });
            if !crosses {
                pairs.push((i, j));
            }
        }
    }
    let big = |i: usize| i < 4;
    let mut rural_nodes: Vec<usize> = Vec::new();
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let (ci, cj) = (centres[i], centres[j]);
        let Some(a) = osm.nearest(&grids[i].edge_nodes, cj.0, cj.1) else {
            continue;
        };
        let Some(b) = osm.nearest(&grids[j].edge_nodes, ci.0, ci.1) else {
            continue;
        };
        let bend = rng.random_range(-0.05..0.05);
        let line = osm.line_between(a, b, 150.0, bend);
        rural_nodes.extend(&line[1..line.len() - 1]);
        let (pi, pj) = (territory.towns[i].population, territory.towns[j].population);
        let (class, speed) = if (big(i) || big(j)) && pi.min(pj) >= 2_000 {
            ("primary", Some("80"))
        } else if big(i) || big(j) || pi.min(pj) >= 1_200 {
            ("secondary", if k % 2 == 0 { Some("80") } else { None })
        } else {
            ("tertiary", None)
        };
        let reference = format!("D {}", 100 + k);
        let mut tags = vec![("highway", class), ("ref", reference.as_str())];
        if let Some(s) = speed {
            tags.push(("maxspeed", s));
        }
        // A low railway bridge on one tertiary road: no lorries.
        if class == "tertiary" && k % 7 == 3 {
            let cut = line.len() / 2;
            osm.way(line[..=cut].to_vec(), &tags);
            let mut low = tags.clone();
            low.push(("maxheight", "3.2"));
            osm.way(line[cut..(cut + 2).min(line.len())].to_vec(), &low);
            if cut + 1 < line.len() {
                osm.way(line[cut + 1..].to_vec(), &tags);
            }
        } else {
            osm.way(line, &tags);
        }
    }

    // Motorway south of the main town, with junctions and end roundabouts.
    let [bx0, by0, bx1, by1] = territory.bbox;
    let (lx0, _) = frame.to_local(bx0, by0);
    let (lx1, _) = frame.to_local(bx1, by1);
    let main_c = centres.first().copied().unwrap_or((0.0, 0.0));
    let y_mw = main_c.1 - 3_000.0;
    let (x_start, x_end) = (lx0 * 0.8, lx1 * 0.8);
    let n_junctions = 4;
    let junction_x: Vec<f64> = (0..n_junctions)
        .map(|k| x_start + (x_end - x_start) * (k as f64 + 0.5) / n_junctions as f64)
        .collect();
    let curve = |x: f64| y_mw + 600.0 * (x / 9_000.0).sin();
    let mut xs: Vec<f64> = Vec::new();
    let mut x = x_start;
    while x < x_end {
        xs.push(x);
        x += 250.0;
    }
    xs.push(x_end);
    for &jx in &junction_x {
        xs.push(jx - 600.0);
        xs.push(jx + 600.0);
    }
    xs.sort_by(f64::total_cmp);
    xs.dedup_by(|a, b| (*a - *b).abs() < 1.0);
    let eb: Vec<usize> = xs.iter().map(|&x| osm.node(x, curve(x) - 15.0)).collect();
    let wb: Vec<usize> = xs.iter().map(|&x| osm.node(x, curve(x) + 15.0)).collect();
    let at = |x: f64| xs.iter().position(|&v| (v - x).abs() < 1.0);
    let mw_tags = [
        ("highway", "motorway"),
        ("oneway", "yes"),
        ("ref", "A 99"),
        ("maxspeed", "130"),
    ];
    osm.way(eb.clone(), &mw_tags);
    osm.way(wb.iter().rev().copied().collect(), &mw_tags);
    let all_town_edges: Vec<(usize, usize)> = grids
        .iter()
        .enumerate()
        .flat_map(|(t, g)| g.edge_nodes.iter().map(move |&n| (t, n)))
        .collect();
    let nearest_town_edge = |osm: &Osm, x: f64, y: f64| {
        let cand: Vec<usize> = all_town_edges.iter().map(|&(_, n)| n).collect();
        osm.nearest(&cand, x, y)
    };
    for &jx in &junction_x {
        let (Some(i_w), Some(i_e)) = (at(jx - 600.0), at(jx + 600.0)) else {
            continue;
        };
        let ry = curve(jx) + 450.0;
        let ring = osm.roundabout(jx, ry, 45.0, 8, "primary");
        // Ring nodes: 0 east, 2 north, 4 west, 6 south (counter-clockwise).
        let link = [("highway", "motorway_link")];
        let l = osm.line_between(eb[i_w], ring[5], 150.0, 0.1);
        osm.way(l, &link);
        let l = osm.line_between(ring[7], eb[i_e], 150.0, 0.1);
        osm.way(l, &link);
        let l = osm.line_between(wb[i_e], ring[7], 150.0, -0.1);
        osm.way(l, &link);
        let l = osm.line_between(ring[5], wb[i_w], 150.0, -0.1);
        osm.way(l, &link);
        if let Some(t) = nearest_town_edge(&osm, jx, ry) {
            let l = osm.line_between(ring[2], t, 200.0, 0.03);
            rural_nodes.extend(&l[1..l.len() - 1]);
            osm.way(l, &[("highway", "primary"), ("maxspeed", "80")]);
        }
    }
    for (end, x) in [(0usize, x_start), (xs.len() - 1, x_end)] {
        let west = end == 0;
        let rx = if west { x - 300.0 } else { x + 300.0 };
        let ring = osm.roundabout(rx, curve(x), 50.0, 8, "trunk");
        let far = if west { 4 } else { 0 };
        // Eastbound leaves the western roundabout and enters the eastern one; westbound the
        // reverse.
        let ramp = [("highway", "motorway_link")];
        if west {
            let l = osm.line_between(ring[7], eb[end], 150.0, 0.0);
            osm.way(l, &ramp);
            let l = osm.line_between(wb[end], ring[1], 150.0, 0.0);
            osm.way(l, &ramp);
        } else {
            let l = osm.line_between(eb[end], ring[5], 150.0, 0.0);
            osm.way(l, &ramp);
            let l = osm.line_between(ring[3], wb[end], 150.0, 0.0);
            osm.way(l, &ramp);
        }
        // A trunk road on to the boundary, and a road to the nearest town.
        let out_x = if west { lx0 * 0.97 } else { lx1 * 0.97 };
        let out = osm.node(out_x, curve(x));
        let l = osm.line_between(ring[far], out, 250.0, 0.0);
        osm.way(l, &[("highway", "trunk"), ("maxspeed", "110")]);
        if let Some(t) = nearest_town_edge(&osm, rx, curve(x)) {
            let l = osm.line_between(ring[2], t, 200.0, 0.04);
            rural_nodes.extend(&l[1..l.len() - 1]);
            osm.way(l, &[("highway", "secondary")]);
        }
    }
    // A trunk road from the main town to the boundary, in the direction that keeps farthest
    // from the other towns.
    if let Some(g) = grids.first() {
        let clearance = |dir: (f64, f64)| {
            centres
                .iter()
                .skip(1)
                .map(|c| {
                    let (vx, vy) = (c.0 - main_c.0, c.1 - main_c.1);
                    let along = (vx * dir.0 + vy * dir.1).max(0.0);
                    (vx - along * dir.0).hypot(vy - along * dir.1)
                })
                .fold(f64::INFINITY, f64::min)
        };
        let dir = (0..16)
            .map(|k| {
                let a = k as f64 / 16.0 * std::f64::consts::TAU;
                (a.cos(), a.sin())
            })
            .max_by(|a, b| clearance(*a).total_cmp(&clearance(*b)))
            .unwrap_or((0.0, 1.0));
        let inside = |x: f64, y: f64| {
            let (lon, lat) = frame.to_lonlat(x, y);
            territory
                .boundary
                .contains(&geo_types::Point::new(lon, lat))
        };
        let mut d = 2_000.0;
        while d < 100_000.0
            && inside(
                main_c.0 + (d + 500.0) * dir.0,
                main_c.1 + (d + 500.0) * dir.1,
            )
        {
            d += 500.0;
        }
        if let Some(start) = osm.nearest(&g.edge_nodes, main_c.0 + d * dir.0, main_c.1 + d * dir.1)
        {
            let end = osm.node(main_c.0 + d * dir.0, main_c.1 + d * dir.1);
            let l = osm.line_between(start, end, 250.0, 0.02);
            osm.way(
                l,
                &[("highway", "trunk"), ("maxspeed", "110"), ("ref", "N 999")],
            );
        }
    }

    // Hamlets: wherever a point of a 2.5 km lattice lies more than 1.2 km from the network, a
    // country lane leads from it to the nearest road, so that nothing in the territory is far
    // from a road (as in the French countryside).
    {
        let [bx0, by0, bx1, by1] = territory.bbox;
        let (lx0, ly0) = frame.to_local(bx0, by0);
        let (lx1, ly1) = frame.to_local(bx1, by1);
        let mut reachable: Vec<usize> = grids
            .iter()
            .flat_map(|g| g.nodes.iter().copied())
            .chain(rural_nodes.iter().copied())
            .collect();
        let step = 1_600.0;
        let mut y = ly0 + step / 2.0;
        while y < ly1 {
            let mut x = lx0 + step / 2.0;
            while x < lx1 {
                let (hx, hy) = (
                    x + rng.random_range(-300.0..300.0),
                    y + rng.random_range(-300.0..300.0),
                );
                x += step;
                let (lon, lat) = frame.to_lonlat(hx, hy);
                if !territory
                    .boundary
                    .contains(&geo_types::Point::new(lon, lat))
                {
                    continue;
                }
                let Some(target) = osm.nearest(&reachable, hx, hy) else {
                    continue;
                };
                let (tx, ty) = osm.nodes[target];
                if (tx - hx).hypot(ty - hy) <= 700.0 {
                    continue;
                }
                let hamlet = osm.node(hx, hy);
                let lane = osm.line_between(hamlet, target, 200.0, rng.random_range(-0.08..0.08));
                reachable.extend(&lane[..lane.len() - 1]);
                rural_nodes.extend(&lane[..lane.len() - 1]);
                osm.way(lane, &[("highway", "unclassified")]);
                let a = rng.random_range(0.0..std::f64::consts::TAU);
                let farm = osm.node(hx + 250.0 * a.cos(), hy + 250.0 * a.sin());
                osm.way(vec![hamlet, farm], &[("highway", "residential")]);
            }
            y += step;
        }
    }

    // Industrial zones: a loop of service roads, spurs, an access road to the network.
    let network_nodes: Vec<usize> = grids
        .iter()
        .flat_map(|g| g.nodes.iter().copied())
        .chain(rural_nodes.iter().copied())
        .collect();
    for (zi, zone) in territory.zones.iter().enumerate() {
        let (zx, zy) = frame.to_local(zone.lon, zone.lat);
        let r = zone.radius_m;
        // An inner loop of service roads, an outer loop road and six spokes across them: the
        // plots of a zone spread well beyond its nominal radius.
        let circle = |osm: &mut Osm, k: usize, radius: f64| -> Vec<usize> {
            (0..k)
                .map(|i| {
                    let a = i as f64 / k as f64 * std::f64::consts::TAU;
                    osm.node(zx + radius * a.cos(), zy + radius * a.sin())
                })
                .collect()
        };
        // The outer loop stays clear of the network it joins.
        let d_net = osm
            .nearest(&network_nodes, zx, zy)
            .map_or(f64::INFINITY, |n| {
                (osm.nodes[n].0 - zx).hypot(osm.nodes[n].1 - zy)
            });
        let r_outer = (1.8 * r).min(0.85 * d_net).max(0.9 * r);
        let k = 16;
        let ring = circle(&mut osm, k, 0.6 * r);
        let outer = circle(&mut osm, 2 * k, r_outer);
        let mut closed = ring.clone();
        closed.push(ring[0]);
        osm.way(closed, &[("highway", "service"), ("service", "industrial")]);
        let mut closed = outer.clone();
        closed.push(outer[0]);
        osm.way(closed, &[("highway", "unclassified"), ("maxspeed", "50")]);
        for spoke in 0..6 {
            let i = (spoke * k / 6 + 1) % k;
            let a = i as f64 / k as f64 * std::f64::consts::TAU;
            let l = osm.line_between(ring[i], outer[2 * i], 100.0, 0.0);
            osm.way(l, &[("highway", "service")]);
            let reach = r_outer + 0.8 * r;
            let end = osm.node(zx + reach * a.cos(), zy + reach * a.sin());
            let l = osm.line_between(outer[2 * i], end, 100.0, 0.0);
            if spoke == 1 {
                osm.way(l, &[("highway", "service"), ("access", "private")]);
            } else {
                osm.way(l, &[("highway", "service")]);
            }
        }
        // The access road leaves the outer loop on the side facing the network.
        if let Some(target) = osm.nearest(&network_nodes, zx, zy) {
            let (tx, ty) = osm.nodes[target];
            if let Some(gate) = osm.nearest(&outer, tx, ty) {
                let l = osm.line_between(gate, target, 150.0, 0.0);
                osm.way(l, &[("highway", "tertiary")]);
            }
        }
        if zi == 0 {
            // An isolated car park: an island no point should snap to.
            let (px, py) = (zx + 0.3 * r, zy - 0.2 * r);
            let p: Vec<usize> = [(0.0, 0.0), (40.0, 0.0), (40.0, 30.0), (0.0, 30.0)]
                .iter()
                .map(|(dx, dy)| osm.node(px + dx, py + dy))
                .collect();
            osm.way(
                vec![p[0], p[1], p[2], p[3], p[0]],
                &[("highway", "service"), ("service", "parking_aisle")],
            );
        }
    }

    // Things a car never uses: a ferry across between two rural roads, a footway.
    if rural_nodes.len() > 10 {
        let a = rural_nodes[rural_nodes.len() / 3];
        let b = rural_nodes[2 * rural_nodes.len() / 3];
        osm.way(
            vec![a, b],
            &[
                ("route", "ferry"),
                ("motor_vehicle", "yes"),
                ("duration", "00:20"),
            ],
        );
    }
    if let Some(g) = grids.first()
        && g.nodes.len() > 2
    {
        let (a, b) = (g.nodes[0], g.nodes[g.nodes.len() - 1]);
        let l = osm.line_between(a, b, 100.0, 0.1);
        osm.way(l, &[("highway", "footway")]);
    }
    osm.to_xml(seed)
}

/// Writes the demo road network (gzip-compressed OSM XML, [`ROADS_FILE`]) into a directory;
/// the output is byte-identical for a given territory and seed.
pub fn write_roads(out_dir: &Path, territory: &Territory, seed: u64) -> std::io::Result<PathBuf> {
    let xml = generate_roads(territory, seed);
    std::fs::create_dir_all(out_dir)?;
    let path = out_dir.join(ROADS_FILE);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(xml.as_bytes())?;
    std::fs::write(&path, gz.finish()?)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{BuildOptions, ProfileId, RawNetwork, RoadGraph};

    #[test]
    fn the_demo_network_is_large_connected_and_labelled() {
        let t = Territory::generate(76, 1);
        let xml = generate_roads(&t, 76);
        assert_eq!(xml, generate_roads(&t, 76), "deterministic");
        assert!(xml.contains(SOURCE));
        let net = RawNetwork::read_bytes(xml.as_bytes(), "roads.osm", None).unwrap();
        let nodes = xml.matches("<node ").count();
        assert!((15_000..=26_000).contains(&nodes), "{nodes} nodes");
        let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
        // Nearly every node is in the main strongly connected component.
        let islands = g.island_nodes();
        assert!(
            islands > 0 && islands < g.node_count() / 100,
            "{islands} island nodes"
        );
        for class in [
            "motorway",
            "motorway_link",
            "trunk",
            "primary",
            "secondary",
            "tertiary",
            "residential",
            "service",
        ] {
            assert!(xml.contains(&format!("v=\"{class}\"")), "no {class}");
        }
        assert!(xml.contains("junction\" v=\"roundabout"));
        assert!(xml.contains("v=\"-1\""));
    }

    #[test]
    fn the_committed_fixture_is_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_roads(dir.path(), &Territory::generate(76, 1), 76).unwrap();
        let fresh = std::fs::read(path).unwrap();
        assert!(
            fresh == EMBEDDED_ROADS,
            "fixtures/{ROADS_FILE} differs from the generator's output: run `terriens fixtures`"
        );
    }
}
