//! OpenStreetMap readers: `.osm.pbf` (crate `osmpbf`) and OSM XML 0.6 (crate `quick-xml`),
//! into a [`RawNetwork`].
//!
//! Steps: read every node's position and every way whose tags make a road
//! ([`WayAttrs::from_osm_tags`]); then keep the nodes the roads use, in way order. Nodes are
//! held in memory as (id, lon, lat) triples of 16 bytes, so an extract of a few million nodes
//! is fine; a country file would want two passes (ways first, then only their nodes).

use std::collections::HashMap;

use osmpbf::{Element, ElementReader};
use quick_xml::events::{BytesStart, Event};

use super::error::RoutingError;
use super::network::RawNetwork;
use super::profile::WayAttrs;

/// What both readers collect before node lookup.
#[derive(Default)]
struct Collected {
    /// (OSM id, lon×1e7, lat×1e7).
    nodes: Vec<(i64, i32, i32)>,
    ways: Vec<(Vec<i64>, WayAttrs)>,
    ways_skipped: usize,
}

impl Collected {
    fn way<'a>(&mut self, refs: Vec<i64>, tags: impl Iterator<Item = (&'a str, &'a str)>) {
        match WayAttrs::from_osm_tags(tags) {
            Some(attrs) => self.ways.push((refs, attrs)),
            None => self.ways_skipped += 1,
        }
    }

    /// Looks the ways' nodes up; a way is split where it references a node the file lacks.
    fn into_network(mut self, source: &str) -> RawNetwork {
        self.nodes.sort_unstable_by_key(|n| n.0);
        self.nodes.dedup_by_key(|n| n.0);
        let mut net = RawNetwork::new(source);
        net.ways_skipped = self.ways_skipped;
        let mut index: HashMap<i64, u32> = HashMap::new();
        for (refs, attrs) in self.ways {
            let mut part: Vec<u32> = Vec::with_capacity(refs.len());
            for r in refs {
                let idx = match index.get(&r) {
                    Some(&i) => Some(i),
                    None => match self.nodes.binary_search_by_key(&r, |n| n.0) {
                        Ok(pos) => {
                            let (_, lon, lat) = self.nodes[pos];
                            let i = net.push_node(f64::from(lon) / 1e7, f64::from(lat) / 1e7);
                            index.insert(r, i);
                            Some(i)
                        }
                        Err(_) => None,
                    },
                };
                match idx {
                    Some(i) => part.push(i),
                    None => {
                        net.missing_node_refs += 1;
                        net.push_way(std::mem::take(&mut part), attrs.clone());
                    }
                }
            }
            net.push_way(part, attrs);
        }
        net
    }
}

/// Reads an `.osm.pbf` file held in memory.
pub fn read_pbf(bytes: &[u8], source: &str) -> Result<RawNetwork, RoutingError> {
    let mut c = Collected::default();
    ElementReader::new(bytes)
        .for_each(|el| match el {
            Element::Node(n) => c.nodes.push((n.id(), n.decimicro_lon(), n.decimicro_lat())),
            Element::DenseNode(n) => c.nodes.push((n.id(), n.decimicro_lon(), n.decimicro_lat())),
            Element::Way(w) => c.way(w.refs().collect(), w.tags()),
            Element::Relation(_) => {}
        })
        .map_err(|e| RoutingError::Pbf {
            source_name: source.to_string(),
            message: e.to_string(),
        })?;
    Ok(c.into_network(source))
}

/// Tags of the way being read.
type Tags = Vec<(String, String)>;

/// Reads OSM XML 0.6 (already decompressed).
pub fn read_xml(bytes: &[u8], source: &str) -> Result<RawNetwork, RoutingError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let err = |position: u64, message: String| RoutingError::Xml {
        source_name: source.to_string(),
        position,
        message,
    };
    let mut c = Collected::default();
    // The way being read: its node refs and tags.
    let mut way: Option<(Vec<i64>, Tags)> = None;
    let mut buf = Vec::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| err(pos, e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    b"node" => {
                        let id =
                            attr_i64(e, b"id").ok_or_else(|| err(pos, "node without id".into()))?;
                        let (Some(lat), Some(lon)) = (attr_f64(e, b"lat"), attr_f64(e, b"lon"))
                        else {
                            return Err(err(pos, format!("node {id} without lat/lon")));
                        };
                        c.nodes
                            .push((id, (lon * 1e7).round() as i32, (lat * 1e7).round() as i32));
                    }
                    b"way" if !empty => way = Some((Vec::new(), Vec::new())),
                    b"nd" => {
                        if let Some((refs, _)) = way.as_mut() {
                            let r = attr_i64(e, b"ref")
                                .ok_or_else(|| err(pos, "nd without ref".into()))?;
                            refs.push(r);
                        }
                    }
                    b"tag" => {
                        if let Some((_, tags)) = way.as_mut() {
                            let (k, v) = (attr_string(e, b"k"), attr_string(e, b"v"));
                            if let (Some(k), Some(v)) = (k, v) {
                                tags.push((k, v));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) if e.name().as_ref() == b"way" => {
                if let Some((refs, tags)) = way.take() {
                    c.way(refs, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(c.into_network(source))
}

fn attr_raw<'a>(e: &'a BytesStart<'a>, name: &[u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| a.value)
}

fn attr_i64(e: &BytesStart<'_>, name: &[u8]) -> Option<i64> {
    std::str::from_utf8(&attr_raw(e, name)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn attr_f64(e: &BytesStart<'_>, name: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(&attr_raw(e, name)?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    v.is_finite().then_some(v)
}

fn attr_string(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<osm version="0.6">
  <node id="1" lat="49.0" lon="1.0"/>
  <node id="2" lat="49.001" lon="1.0"/>
  <node id="3" lat="49.002" lon="1.0"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="99"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Rue &amp; Co"/></way>
  <way id="11"><nd ref="1"/><nd ref="3"/><tag k="highway" v="footway"/></way>
  <way id="12"/>
</osm>"#;

    #[test]
    fn xml_ways_split_at_missing_nodes() {
        let net = read_xml(XML.as_bytes(), "t.osm").unwrap();
        // Node 3 is read but used by no way of two nodes or more after the split.
        assert_eq!(net.lonlat.len(), 3);
        assert_eq!(net.ways.len(), 1);
        assert_eq!(net.ways[0].nodes, vec![0, 1]);
        assert_eq!(net.missing_node_refs, 1);
        assert_eq!(net.ways_skipped, 1);
        assert_eq!(net.lonlat[1], [1.0, 49.001]);
    }

    #[test]
    fn broken_xml_says_where() {
        let err =
            read_xml(b"<osm><node id=\"1\" lat=\"x\" lon=\"1\"/></osm>", "b.osm").unwrap_err();
        assert!(err.to_string().contains("without lat/lon"), "{err}");
    }
}
