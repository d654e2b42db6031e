//! Built-up area or open country, guessed from the road density around a point, for roads whose
//! data says neither (most OSM roads carry no `maxspeed`). The idea is GraphHopper's
//! `UrbanDensityCalculator`: towns are where streets are dense.
//!
//! Steps: sum the length of local roads (every class but motorways, trunks and links, whatever
//! their access) in cells of [`CELL_M`]; a point is urban when the 3 × 3 cells around it hold
//! at least [`URBAN_KM_PER_KM2`] km of road per km². For scale: a town grid with a street
//! every 100 m has about 20 km/km², open farmland in France 1 to 2.

use std::collections::HashMap;

use super::network::RawNetwork;
use crate::geo_util::metres_per_degree;

/// Side of a density cell, metres.
pub const CELL_M: f64 = 500.0;
/// Road density above which a place counts as built-up, km of road per km².
pub const URBAN_KM_PER_KM2: f64 = 5.0;

/// Road length per cell.
#[derive(Debug, Clone)]
pub struct UrbanDensity {
    cells: HashMap<(i32, i32), f64>,
    lon0: f64,
    lat0: f64,
    cell_deg: [f64; 2],
}

/// Counts the local road length of a network per cell.
pub fn urban_density(net: &RawNetwork) -> UrbanDensity {
    let lat0 = if net.lonlat.is_empty() {
        0.0
    } else {
        net.lonlat.iter().map(|p| p[1]).sum::<f64>() / net.lonlat.len() as f64
    };
    let lon0 = net.lonlat.first().map_or(0.0, |p| p[0]);
    let (m_lat, m_lon) = metres_per_degree(lat0);
    let mut d = UrbanDensity {
        cells: HashMap::new(),
        lon0,
        lat0,
        cell_deg: [CELL_M / m_lon.max(1e-9), CELL_M / m_lat],
    };
    for way in &net.ways {
        if way.attrs.class.is_major() {
            continue;
        }
        for pair in way.nodes.windows(2) {
            let (a, b) = (net.lonlat[pair[0] as usize], net.lonlat[pair[1] as usize]);
            let len_m = ((b[0] - a[0]) * m_lon).hypot((b[1] - a[1]) * m_lat);
            let cell = d.cell((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0);
            *d.cells.entry(cell).or_insert(0.0) += len_m;
        }
    }
    d
}

impl UrbanDensity {
    fn cell(&self, lon: f64, lat: f64) -> (i32, i32) {
        (
            ((lon - self.lon0) / self.cell_deg[0]).floor() as i32,
            ((lat - self.lat0) / self.cell_deg[1]).floor() as i32,
        )
    }

    /// Local road length within the 3 × 3 cells around a point, km per km².
    pub fn km_per_km2(&self, lon: f64, lat: f64) -> f64 {
        let (cx, cy) = self.cell(lon, lat);
        let mut m = 0.0;
        for dy in -1..=1 {
            for dx in -1..=1 {
                m += self.cells.get(&(cx + dx, cy + dy)).copied().unwrap_or(0.0);
            }
        }
        let km2 = 9.0 * (CELL_M / 1000.0).powi(2);
        m / 1000.0 / km2
    }

    /// Whether the point lies in a built-up area.
    pub fn is_urban(&self, lon: f64, lat: f64) -> bool {
        self.km_per_km2(lon, lat) >= URBAN_KM_PER_KM2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::profile::{RoadClass, WayAttrs};

    #[test]
    fn a_street_grid_is_urban_and_a_lone_road_is_not() {
        let mut net = RawNetwork::new("t");
        // A 1.5 km square grid with a street every 100 m at (1.0, 49.0).
        let (m_lat, m_lon) = metres_per_degree(49.0);
        for i in 0..16 {
            let off = i as f64 * 100.0;
            let a = net.push_node(1.0, 49.0 + off / m_lat);
            let b = net.push_node(1.0 + 1500.0 / m_lon, 49.0 + off / m_lat);
            net.push_way(vec![a, b], WayAttrs::new(RoadClass::Residential));
            let c = net.push_node(1.0 + off / m_lon, 49.0);
            let d = net.push_node(1.0 + off / m_lon, 49.0 + 1500.0 / m_lat);
            net.push_way(vec![c, d], WayAttrs::new(RoadClass::Residential));
        }
        // A lone road 20 km east.
        let a = net.push_node(1.0 + 20_000.0 / m_lon, 49.0);
        let b = net.push_node(1.0 + 20_000.0 / m_lon, 49.0 + 3000.0 / m_lat);
        net.push_way(vec![a, b], WayAttrs::new(RoadClass::Tertiary));
        let d = urban_density(&net);
        assert!(d.is_urban(1.0 + 750.0 / m_lon, 49.0 + 750.0 / m_lat));
        assert!(!d.is_urban(1.0 + 20_000.0 / m_lon, 49.0 + 1500.0 / m_lat));
    }
}
