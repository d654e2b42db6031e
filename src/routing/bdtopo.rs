//! IGN BD TOPO `troncon_de_route` reader: GeoJSON LineStrings in any CRS PROJ knows
//! (Lambert-93, EPSG:2154, for BD TOPO), reprojected to WGS84, into a [`RawNetwork`].
//!
//! BD TOPO sections meet at their end points; intermediate vertices are shape points. So
//! vertices are merged by position (after reprojection, rounded to 1e-7°, about 1 cm), which
//! connects sections exactly where their ends coincide and nowhere else: a bridge passing over
//! a road shares no vertex with it. Turn restrictions (`non_communication`) are not read.

use std::collections::HashMap;

use geo_types::{Geometry, LineString};

use super::error::RoutingError;
use super::network::RawNetwork;
use super::profile::WayAttrs;
use crate::geo_util::{Crs, Reprojector};
use crate::ingest::read_geojson;

/// Reads a BD TOPO `troncon_de_route` GeoJSON document (already decompressed).
pub fn read_bdtopo(
    bytes: &[u8],
    source: &str,
    crs: Option<&Crs>,
) -> Result<RawNetwork, RoutingError> {
    let doc = read_geojson(bytes).map_err(|e| RoutingError::BdTopo {
        source_name: source.to_string(),
        source: e,
    })?;
    let crs = crs.cloned().or(doc.crs).unwrap_or(Crs::Wgs84);
    let reproject = Reprojector::to_wgs84(&crs)?;
    let mut net = RawNetwork::new(source);
    let mut by_position: HashMap<(i64, i64), u32> = HashMap::new();
    for f in doc.features {
        let Some(attrs) = WayAttrs::from_bdtopo(&f.properties) else {
            net.ways_skipped += 1;
            continue;
        };
        let lines: Vec<LineString<f64>> = match f.geometry {
            Ok(Geometry::LineString(l)) => vec![l],
            Ok(Geometry::MultiLineString(ml)) => ml.0,
            _ => {
                net.ways_skipped += 1;
                continue;
            }
        };
        for line in lines {
            let mut nodes = Vec::with_capacity(line.0.len());
            for c in &line.0 {
                let (lon, lat) = reproject.convert(c.x, c.y)?;
                let key = ((lon * 1e7).round() as i64, (lat * 1e7).round() as i64);
                let idx = *by_position
                    .entry(key)
                    .or_insert_with(|| net.push_node(lon, lat));
                if nodes.last() != Some(&idx) {
                    nodes.push(idx);
                }
            }
            net.push_way(nodes, attrs.clone());
        }
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_meet_at_shared_ends_in_lambert93() {
        let doc = r#"{"type":"FeatureCollection",
          "crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},
          "features":[
            {"type":"Feature","properties":{"nature":"Route à 1 chaussée","importance":"4","sens_de_circulation":"Double sens"},
             "geometry":{"type":"LineString","coordinates":[[895000,6244000,10],[895100,6244000,11],[895200,6244000,12]]}},
            {"type":"Feature","properties":{"nature":"Route à 1 chaussée","importance":"4","sens_de_circulation":"Sens direct"},
             "geometry":{"type":"LineString","coordinates":[[895200,6244000],[895200,6244100]]}},
            {"type":"Feature","properties":{"nature":"Sentier"},
             "geometry":{"type":"LineString","coordinates":[[895200,6244000],[895300,6244100]]}}
          ]}"#;
        let net = read_bdtopo(doc.as_bytes(), "t.geojson", None).unwrap();
        assert_eq!(net.ways.len(), 2);
        assert_eq!(net.ways_skipped, 1);
        assert_eq!(net.lonlat.len(), 4, "the shared end is one node");
        assert_eq!(net.ways[0].nodes[2], net.ways[1].nodes[0]);
        // Marseille is near lon 5.4, lat 43.27.
        let [lon, lat] = net.lonlat[0];
        assert!(
            (5.3..5.5).contains(&lon) && (43.2..43.35).contains(&lat),
            "{lon} {lat}"
        );
    }
}
