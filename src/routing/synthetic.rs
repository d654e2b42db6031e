//! A large synthetic road network for benchmarks (deterministic for a seed): a jittered grid
//! of `side` × `side` nodes 150 m apart, with a road hierarchy like open French country —
//! every 40th line a primary road, every 10th a secondary, the rest unclassified with 10 % of
//! their sections missing — and a two-way motorway every 200 lines, on its own nodes, with
//! junctions (two-way links) every 6 km. Labelled rural, so speeds come from the rural column
//! of the profile table. `side = 1000` gives 1,002,500 nodes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::network::RawNetwork;
use super::profile::{RoadClass, WayAttrs};
use crate::geo_util::metres_per_degree;

/// Grid spacing, metres.
pub const SPACING_M: f64 = 150.0;

/// The network; its south-west corner is at (0.5, 46.0).
pub fn synthetic_network(side: usize, seed: u64) -> RawNetwork {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = RawNetwork::new(format!("synthetic grid {side}×{side} (seed {seed})"));
    let (lon0, lat0) = (0.5, 46.0);
    let (m_lat, m_lon) = metres_per_degree(lat0 + side as f64 * SPACING_M / 2.0 / 111_000.0);
    let pos = |x: f64, y: f64| (lon0 + x / m_lon, lat0 + y / m_lat);
    net.lonlat.reserve(side * side + side);
    for j in 0..side {
        for i in 0..side {
            let jitter = |rng: &mut ChaCha8Rng| rng.random_range(-25.0..25.0);
            let (x, y) = (
                i as f64 * SPACING_M + jitter(&mut rng),
                j as f64 * SPACING_M + jitter(&mut rng),
            );
            let (lon, lat) = pos(x, y);
            net.push_node(lon, lat);
        }
    }
    let id = |i: usize, j: usize| (j * side + i) as u32;
    let class_of = |k: usize| {
        if k % 40 == 20 {
            RoadClass::Primary
        } else if k % 10 == 5 {
            RoadClass::Secondary
        } else {
            RoadClass::Unclassified
        }
    };
    let attrs = |class| {
        let mut a = WayAttrs::new(class);
        a.urban = Some(false);
        a
    };
    // Rows (west–east) then columns (south–north); minor lines lose 10 % of their sections.
    for horizontal in [true, false] {
        for k in 0..side {
            let class = class_of(k);
            let mut run: Vec<u32> = Vec::new();
            for t in 0..side {
                let v = if horizontal { id(t, k) } else { id(k, t) };
                run.push(v);
                let cut = class == RoadClass::Unclassified && t + 1 < side && rng.random_bool(0.1);
                if cut {
                    net.push_way(std::mem::take(&mut run), attrs(class));
                }
            }
            net.push_way(run, attrs(class));
        }
    }
    // Motorways between rows, on their own nodes every 300 m, with a junction every 6 km.
    let mut j = 100;
    while j + 1 < side {
        let y = (j as f64 + 0.5) * SPACING_M;
        let mut line = Vec::new();
        let mut i = 0;
        while i < side {
            let (lon, lat) = pos(i as f64 * SPACING_M, y);
            let m = net.push_node(lon, lat);
            line.push(m);
            if i % 40 == 20 {
                for below_above in [id(i, j), id(i, j + 1)] {
                    net.push_way(vec![m, below_above], attrs(RoadClass::MotorwayLink));
                }
            }
            i += 2;
        }
        let mut mw = attrs(RoadClass::Motorway);
        mw.oneway = super::profile::Oneway::Both;
        net.push_way(line, mw);
        j += 200;
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_the_hierarchy() {
        let a = synthetic_network(30, 1);
        let b = synthetic_network(30, 1);
        assert_eq!(a.lonlat, b.lonlat);
        assert_eq!(a.ways, b.ways);
        assert!(a.ways.iter().any(|w| w.attrs.class == RoadClass::Primary));
        assert!(a.ways.iter().any(|w| w.attrs.class == RoadClass::Secondary));
        assert_eq!(a.lonlat.len(), 900);
    }
}
